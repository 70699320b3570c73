//! The leak corpus (`tests/leaks/*.yml` at the repository root): flows that try to leak a
//! secret through every path we could think of. Each runs against a real SQLite file; then no
//! log line, output, error or stored byte may hold a secret, a value derived from one, or a
//! common encoding of either.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use saker_crypto::{Keyring, SecretKey};
use saker_engine::{Engine, EngineParts, KeyringSealer, display_masked};
use saker_model::DEFAULT_TENANT;
use saker_store::{LogQuery, SqliteStore, Store};
use serde_json::{Map, Value};
use sha2::Digest;

const TOKEN: &str = "s3cr3t-T0ken-4f9a2c7e1b8d";
const JQ_TOKEN: &str = "SUPER_SECRET_jq_value_77";
const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----";
const PASSWORD: &str = "hunter2-Very-Long-Password-99";
/// Secrets cut into pieces shorter than the mask minimum. Their characters (four UTF-8 bytes
/// each) appear nowhere else, so any one of them in a log line, an output or a stored byte
/// is a leak: a check that value matching alone fails.
const PIECE: &str = "🐙🦊🐝🦉🐢🦀🐳🦄";
const GLYPHS: &str = "𝔞𝔟𝔠𝔡𝔢𝔣𝔤𝔥";
const JQ_CODE: &str = "🍎🍌🍒🍇🍉🍓";
/// Letters only, for ROT13 and reversal built in templates.
const LETTERS: &str = "xkcdpasswordzebra";

/// Flows that must be refused, with what the error line must name: a piece of a secret
/// too short to mask must not reach a process.
const REFUSALS: &[(&str, &[&str])] = &[
    (
        "shell-short-command.yml",
        &["task 'cmd'", "commands[0]", "secret 'PIECE'"],
    ),
    (
        "shell-short-env.yml",
        &["task 'env'", "env.PIECE", "secret 'PIECE'"],
    ),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/leaks")
}

/// Every string that must never appear: the secrets, what the corpus derives from them, and
/// their common encodings.
fn forbidden() -> Vec<(String, String)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut plain: Vec<(&str, String)> = vec![
        ("token", TOKEN.to_owned()),
        ("jq token", JQ_TOKEN.to_owned()),
        ("password", PASSWORD.to_owned()),
        ("token upper", TOKEN.to_uppercase()),
        ("token title", "S3cr3t-T0ken-4f9a2c7e1b8d".to_owned()),
        ("token replaced", TOKEN.replace('-', "_")),
        ("token slice", TOKEN[..12].to_owned()),
        ("token tail", TOKEN[14..].to_owned()),
        (
            "token sha256",
            hex::encode(sha2::Sha256::digest(TOKEN.as_bytes())),
        ),
        ("token url", TOKEN.to_owned()),
        ("bearer lower", format!("bearer {TOKEN}").to_lowercase()),
        ("token lower", TOKEN.to_lowercase()),
        ("token rot13", rot13(TOKEN)),
        ("token reversed", TOKEN.chars().rev().collect()),
        ("letters", LETTERS.to_owned()),
        ("letters rot13", rot13(LETTERS)),
        ("letters reversed", LETTERS.chars().rev().collect()),
        // What char-loop.yml prints if the loop's output is not tainted: each character
        // found by comparing with an alphabet, then a dot.
        (
            "letters one by one",
            LETTERS.chars().flat_map(|c| [c, '.']).collect(),
        ),
    ];
    for line in PEM.lines().filter(|l| !l.starts_with("-----")) {
        plain.push(("pem line", line.to_owned()));
    }
    let mut out = Vec::new();
    for (name, value) in plain {
        out.push((
            format!("{name} (base64)"),
            b64.encode(&value).trim_end_matches('=').to_owned(),
        ));
        out.push((format!("{name} (hex)"), hex::encode(&value)));
        out.push((format!("{name} (HEX)"), hex::encode_upper(&value)));
        out.push((name.to_owned(), value));
    }
    let utf16: Vec<u8> = TOKEN.encode_utf16().flat_map(u16::to_le_bytes).collect();
    out.push((
        "token UTF-16LE (base64)".into(),
        b64.encode(&utf16).trim_end_matches('=').to_owned(),
    ));
    out.push(("token base32".into(), base32(TOKEN.as_bytes())));
    let basic = b64.encode(format!("ann:{TOKEN}"));
    out.push(("basic auth".into(), basic.trim_end_matches('=').to_owned()));
    out
}

fn rot13(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
            'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
            other => other,
        })
        .collect()
}

/// RFC 4648 base32 without padding, as `base32` prints it (before its `=`).
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Secrets whose every character is a leak on its own (see [`PIECE`]).
fn piece_secrets() -> [(&'static str, &'static str); 3] {
    [
        ("PIECE", PIECE),
        ("glyphs input", GLYPHS),
        ("jq code", JQ_CODE),
    ]
}

fn check_text(what: &str, text: &str, leaks: &mut Vec<String>) {
    for (name, value) in forbidden() {
        if text.contains(&value) {
            // The value itself is not printed, only what leaked and where.
            leaks.push(format!("{what}: contains the {name}"));
        }
    }
    for (name, value) in piece_secrets() {
        let found = value.chars().filter(|c| text.contains(*c)).count();
        if found > 0 {
            leaks.push(format!(
                "{what}: contains {found} character(s) of the {name}"
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leak_corpus_leaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("saker.db")).unwrap());
    let mut parts = EngineParts::new(store.clone());
    parts.secrets = Arc::new(common::KeyedSecrets::new([
        ("TOKEN", TOKEN.to_owned()),
        ("PEM", PEM.to_owned()),
        (
            "jsonSecret",
            format!(r#"{{"token":"{JQ_TOKEN}","user":"ann"}}"#),
        ),
        (
            "jsonPieces",
            format!(r#"{{"code":"{JQ_CODE}","user":"ann"}}"#),
        ),
        ("PIECE", PIECE.to_owned()),
        ("LETTERS", LETTERS.to_owned()),
        (
            "jsonList",
            format!(r#"["{TOKEN}","{JQ_TOKEN}","plain-item"]"#),
        ),
    ]));
    parts.sealer = Some(Arc::new(KeyringSealer::new(Keyring::new(
        SecretKey::generate(),
    ))));
    parts.storage = Some(Arc::new(saker_storage::LocalStorage::new(
        dir.path().join("storage"),
    )));
    let engine = Engine::start(parts);

    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "the corpus is missing flows");

    let mut leaks = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(file).unwrap();
        let (flow, saved) = engine.deploy(DEFAULT_TENANT, &source).unwrap();
        let mut inputs = Map::new();
        if flow.inputs.iter().any(|i| i.id == "password") {
            inputs.insert("password".into(), Value::String(PASSWORD.into()));
        }
        if flow.inputs.iter().any(|i| i.id == "glyphs") {
            inputs.insert("glyphs".into(), Value::String(GLYPHS.into()));
        }
        let execution = engine
            .create_execution(DEFAULT_TENANT, flow, saved.flow.revision, inputs)
            .unwrap();
        let done = tokio::time::timeout(Duration::from_secs(30), engine.wait(&execution.id))
            .await
            .unwrap()
            .unwrap();
        let logs = store.list_logs(&LogQuery::new(&done.id)).unwrap();
        assert!(!logs.is_empty(), "{name}: no log line");
        let mut masked_somewhere = false;
        for log in &logs {
            check_text(
                &format!("{name}: log line of {:?}", log.entry.task_id),
                &log.entry.message,
                &mut leaks,
            );
            masked_somewhere |= log.entry.message.contains("****");
        }
        let shown =
            serde_json::to_string(&display_masked(&serde_json::to_value(&done).unwrap())).unwrap();
        check_text(&format!("{name}: execution as shown"), &shown, &mut leaks);
        for run in &done.task_run_list {
            let outputs =
                serde_json::to_string(&display_masked(&Value::Object(run.outputs.clone())))
                    .unwrap();
            check_text(
                &format!("{name}: outputs of {}", run.task_id),
                &outputs,
                &mut leaks,
            );
            masked_somewhere |= outputs.contains("****");
        }
        masked_somewhere |= shown.contains("****");
        // A flow either shows `****` where the secret was, or failed on it (the render-error
        // and Fail flows); anything else did not exercise a secret at all.
        let failed = done.state.current == saker_model::StateType::Failed;
        if let Some((_, names)) = REFUSALS.iter().find(|(file, _)| *file == name) {
            let refused = logs.iter().any(|l| {
                l.entry.level == saker_model::Level::Error
                    && names.iter().all(|n| l.entry.message.contains(n))
            });
            if !(failed && refused) {
                leaks.push(format!(
                    "{name}: expected a refusal naming {names:?}, got state {:?}",
                    done.state.current
                ));
            }
        }
        if !(masked_somewhere || failed) {
            leaks.push(format!(
                "{name}: nothing was masked, so the flow did not exercise a secret"
            ));
        }
    }
    drop(engine);

    // Every stored byte: the database, its write-ahead log and the internal storage.
    for path in common::files_under(dir.path()) {
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        check_text(&format!("file {}", path.display()), &text, &mut leaks);
    }
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}
