//! `saker secret`, driven as a user would: inheritance, no plaintext at rest, copied
//! ciphertexts, the lifecycle, rekey, the env backend and concurrent processes.
//!
//! Values go in on stdin through std::process (assert_cmd would print stdin on failure), and
//! no assertion message shows a value.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use saker_crypto::{Keyring, SecretKey};

/// A data directory and how to run `saker` on it.
struct Saker {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Saker {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            env: vec![("USER".into(), "alice".into())],
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn with_env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_saker"));
        cmd.args(args)
            .env("SAKER_DATA_DIR", self.data())
            .env_remove("SAKER_CONFIG")
            .env_remove("SAKER_ENCRYPTION_SECRET_KEY")
            .env_remove("SAKER_SECRET_TYPE")
            .env_remove("SAKER_SECRET_JDBC_SECRET")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd
    }

    /// Runs with `stdin` piped in (empty when `None`).
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            pipe.write_all(text.as_bytes()).unwrap();
        }
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "saker {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn set(&self, namespace: &str, key: &str, value: &str) -> String {
        self.ok(&["secret", "set", namespace, key], Some(value))
    }

    fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data().join("saker.db")).unwrap()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The line of `list` output describing `key`.
fn line_of<'a>(listing: &'a str, key: &str) -> &'a str {
    listing
        .lines()
        .find(|line| line.split_whitespace().next() == Some(key))
        .unwrap_or("")
}

#[test]
fn a_parent_secret_is_inherited_and_the_child_one_wins() {
    let saker = Saker::new();
    saker.set("company", "API_TOKEN", "company-token-1234");
    let listing = saker.ok(&["secret", "list", "company.team", "--inherited"], None);
    let line = line_of(&listing, "API_TOKEN");
    assert!(line.contains(" company "), "{listing}");
    let info = saker.ok(&["secret", "info", "company.team", "API_TOKEN"], None);
    assert!(
        info.contains("namespace:   company (inherited by company.team)"),
        "{info}"
    );
    // Without --inherited the child namespace holds nothing of its own.
    let own = saker.run(&["secret", "list", "company.team"], None);
    assert!(
        stdout(&own).is_empty() && stderr(&own).contains("no secrets"),
        "{own:?}"
    );

    saker.set("company.team", "API_TOKEN", "team-token-5678");
    let listing = saker.ok(&["secret", "list", "company.team", "--inherited"], None);
    let line = line_of(&listing, "API_TOKEN");
    assert!(
        line.contains("company.team (overrides company)"),
        "{listing}"
    );
    assert_eq!(
        listing.lines().count(),
        2,
        "one header and one secret: {listing}"
    );
    let info = saker.ok(
        &["secret", "info", "company.team.project", "API_TOKEN"],
        None,
    );
    assert!(
        info.contains("namespace:   company.team (inherited by"),
        "{info}"
    );
    assert!(info.contains("overrides:   company"), "{info}");
    let info = saker.ok(&["secret", "info", "company", "API_TOKEN"], None);
    assert!(info.contains("namespace:   company\n"), "{info}");
}

fn all_files(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((path, bytes));
        }
    }
}

#[test]
fn no_file_in_the_data_directory_holds_a_plaintext() {
    let saker = Saker::new();
    let values = [
        "plaintext-probe-alpha-0193",
        "plaintext-probe-beta-8842",
        "plaintext-probe-gamma-5521",
    ];
    saker.set("company", "A", values[0]);
    saker.set("company.team", "B", values[1]);
    saker.set("company.team", "B", values[2]);
    saker.ok(&["secret", "rollback", "company.team", "B", "1"], None);
    saker.ok(&["secret", "generate", "company", "GEN"], None);
    let mut files = Vec::new();
    all_files(&saker.data(), &mut files);
    assert!(files.iter().any(|(path, _)| path.ends_with("saker.db")));
    for (path, bytes) in &files {
        for value in values {
            let found = bytes.windows(value.len()).any(|w| w == value.as_bytes());
            assert!(!found, "{} holds a secret's plaintext", path.display());
        }
    }
}

#[test]
fn a_ciphertext_copied_onto_another_secret_fails_to_decrypt() {
    let saker = Saker::new();
    saker.set("company", "SOURCE", "source-value-1111");
    saker.set("company", "TARGET", "target-value-2222");
    saker.set("company", "TARGET", "target-value-3333");
    saker
        .sql()
        .execute(
            "UPDATE secret_versions SET ciphertext = (SELECT ciphertext FROM secret_versions \
             WHERE key = 'SOURCE') WHERE key = 'TARGET' AND version = 1",
            [],
        )
        .unwrap();
    let out = saker.run(&["secret", "rollback", "company", "TARGET", "1"], None);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("secret 'TARGET' in company (version 1) cannot be decrypted"),
        "{err}"
    );
    assert!(err.contains("belongs to another record"), "{err}");
    // The failure is in the audit trail too.
    let audit = saker.ok(&["audit", "list", "--key", "TARGET"], None);
    let last = audit.lines().last().unwrap_or("");
    assert!(
        last.contains("rollback") && last.contains("failed"),
        "{audit}"
    );
    // Rekey opens every value: it re-encrypts the others and names the one it cannot open.
    let key_file = saker.dir.path().join("new.key");
    std::fs::write(&key_file, "another-passphrase-of-32-characters-or-more").unwrap();
    let file = key_file.to_str().unwrap();
    let out = saker.run(&["secret", "rekey", "--new-key-file", file], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("re-encrypted 2 value(s)"), "{out:?}");
    let err = stderr(&out);
    let named = "main/company/TARGET version 1: the ciphertext belongs to another record";
    assert!(err.contains(named), "{err}");
    std::fs::write(&key_file, "short").unwrap();
    let out = saker.run(&["secret", "rekey", "--new-key-file", file], None);
    assert!(stderr(&out).contains("at least 32 characters"), "{out:?}");
}

#[test]
fn the_value_never_comes_from_the_command_line() {
    let saker = Saker::new();
    let out = saker.run(
        &["secret", "set", "company", "K", "on-the-command-line"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unexpected argument"), "{out:?}");
    let out = saker.run(&["secret", "set", "company", "K"], Some(""));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("the value is empty"), "{out:?}");
    let out = saker.run(&["secret", "set", "company", "K"], Some("ab\n"));
    assert!(out.status.success(), "{out:?}");
    assert!(
        stderr(&out).contains("shorter than 4 characters"),
        "{out:?}"
    );
    let out = saker.run(&["secret", "set", "company", "LONGER"], Some("abcd\n"));
    assert!(!stderr(&out).contains("shorter"), "{out:?}");
    let out = saker.run(&["secret", "set", "Company", "K"], Some("abcdef"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("lower-case"), "{out:?}");
}

#[test]
fn versions_rollback_delete_restore_revoke_and_destroy() {
    let saker = Saker::new();
    saker.set("company", "K", "first-value-0001");
    let out = saker.set("company", "K", "second-value-0002");
    assert!(out.contains("version 2"), "{out}");
    let versions = saker.ok(&["secret", "versions", "company", "K"], None);
    assert!(
        versions.contains("2 (current)") && versions.contains("cli:alice"),
        "{versions}"
    );
    let out = saker.ok(&["secret", "rollback", "company", "K", "1"], None);
    assert!(out.contains("now version 3"), "{out}");

    saker.ok(&["secret", "delete", "company", "K"], None);
    let listing = saker.ok(&["secret", "list", "company"], None);
    assert!(line_of(&listing, "K").contains("deleted"), "{listing}");
    let visible = saker.run(&["secret", "list", "company.team", "--inherited"], None);
    assert!(
        stdout(&visible).is_empty(),
        "a deleted secret is not inherited"
    );
    let again = saker.run(&["secret", "delete", "company", "K"], None);
    assert_eq!(again.status.code(), Some(1));
    saker.ok(&["secret", "restore", "company", "K"], None);

    saker.ok(
        &[
            "secret",
            "revoke",
            "company",
            "K",
            "--reason",
            "pasted in chat",
        ],
        None,
    );
    let info = saker.ok(&["secret", "info", "company", "K"], None);
    assert!(
        info.contains("state:       revoked at") && info.contains("(pasted in chat)"),
        "{info}"
    );
    let versions = saker.ok(&["secret", "versions", "company", "K"], None);
    assert!(
        versions.lines().skip(1).all(|line| line.ends_with("no")),
        "{versions}"
    );
    let out = saker.run(&["secret", "rollback", "company", "K", "2"], None);
    assert!(
        stderr(&out).contains("has no available version 2"),
        "{out:?}"
    );
    assert!(
        saker
            .set("company", "K", "fresh-value-0004")
            .contains("version 4")
    );

    let refused = saker.run(&["secret", "destroy", "company", "K"], None);
    assert!(stderr(&refused).contains("--yes"), "{refused:?}");
    saker.ok(&["secret", "destroy", "company", "K", "--yes"], None);
    let gone = saker.run(&["secret", "info", "company", "K"], None);
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        stderr(&gone).contains("secret 'K' not found in company"),
        "{gone:?}"
    );
    let actions: Vec<String> = saker
        .ok(&["audit", "list", "--key", "K"], None)
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().nth(5).unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "write", "write", "rollback", "delete", "delete", "restore", "revoke", "rollback",
            "write", "destroy"
        ]
    );
}

#[test]
fn metadata_expiry_and_rotation_due() {
    let saker = Saker::new();
    saker.ok(
        &[
            "secret",
            "set",
            "company",
            "DESCRIBED",
            "--description",
            "the database password",
            "--tag",
            "team=data",
            "--tag",
            "tier=gold",
            "--expires-at",
            "2099-01-01",
            "--rotation-period",
            "90d",
        ],
        Some("described-value-01"),
    );
    let info = saker.ok(&["secret", "info", "company", "DESCRIBED"], None);
    for expected in [
        "description: the database password",
        "tags:        team=data, tier=gold",
        "expires:     2099-01-01T00:00:00Z",
        "rotation:    every 90d (due ",
        "last read:   never",
    ] {
        assert!(info.contains(expected), "{expected}: {info}");
    }
    saker.ok(
        &[
            "secret",
            "set",
            "company",
            "EXPIRED",
            "--expires-at",
            "2000-01-01",
        ],
        Some("expired-value-1"),
    );
    saker.ok(
        &[
            "secret",
            "set",
            "company",
            "DUE",
            "--rotation-period",
            "1ms",
        ],
        Some("due-value-000001"),
    );
    let listing = saker.ok(&["secret", "list", "company"], None);
    assert!(
        line_of(&listing, "EXPIRED").contains("expired"),
        "{listing}"
    );
    let due = saker.ok(&["secret", "list", "company", "--due"], None);
    let keys: Vec<&str> = due
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(keys, ["DUE", "EXPIRED"], "{due}");
    let bad = saker.run(
        &[
            "secret",
            "set",
            "company",
            "X",
            "--expires-at",
            "next tuesday",
        ],
        Some("abcdefgh"),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--expires-at"), "{bad:?}");
}

#[test]
fn generate_sets_a_value_without_showing_it() {
    let saker = Saker::new();
    let out = saker.ok(
        &[
            "secret",
            "generate",
            "company",
            "GEN",
            "--length",
            "48",
            "--charset",
            "base64",
        ],
        None,
    );
    assert!(
        out.contains("48 base64 characters") && out.contains("not shown"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1);
    let listing = saker.ok(&["secret", "list", "company"], None);
    assert!(line_of(&listing, "GEN").contains("active"), "{listing}");
    let short = saker.run(
        &["secret", "generate", "company", "X", "--length", "3"],
        None,
    );
    assert_eq!(short.status.code(), Some(2));
    assert!(stderr(&short).contains("8 to 4096"), "{short:?}");
    let charset = saker.run(
        &["secret", "generate", "company", "X", "--charset", "emoji"],
        None,
    );
    assert_eq!(charset.status.code(), Some(2));
}

/// Key ids of every stored ciphertext.
fn key_ids(saker: &Saker) -> Vec<String> {
    saker
        .sql()
        .prepare("SELECT ciphertext FROM secret_versions")
        .unwrap()
        .query_map([], |row| row.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|ct| Keyring::envelope_key_id(&ct.unwrap()).unwrap().to_string())
        .collect()
}

#[test]
fn rekey_interrupted_then_rerun_then_the_old_key_is_not_needed() {
    let saker = Saker::new();
    for n in 0..3 {
        saker.set(
            "company",
            &format!("K{n}"),
            &format!("value-before-rekey-{n}"),
        );
    }
    let passphrase = "a-new-passphrase-for-the-secret-store-0123";
    let key_file = saker.dir.path().join("new.key");
    std::fs::write(&key_file, format!("{passphrase}\n")).unwrap();
    let new_id = SecretKey::from_passphrase(passphrase)
        .unwrap()
        .id()
        .to_string();
    let file = key_file.to_str().unwrap();

    let out = saker.ok(
        &["secret", "rekey", "--new-key-file", file, "--limit", "1"],
        None,
    );
    assert!(
        out.contains("re-encrypted 1 value(s)") && out.contains("stopped at --limit"),
        "{out}"
    );
    assert_eq!(
        key_ids(&saker).iter().filter(|id| **id == new_id).count(),
        1
    );

    let out = saker.ok(&["secret", "rekey", "--new-key-file", file], None);
    assert!(
        out.contains("re-encrypted 2 value(s); 1 already were"),
        "{out}"
    );
    assert!(key_ids(&saker).iter().all(|id| *id == new_id));

    // The old configuration can no longer open them: it lacks the new key.
    let old = saker.run(&["secret", "rollback", "company", "K0", "1"], None);
    assert!(stderr(&old).contains("not in the keyring"), "{old:?}");
    // With the new key configured and the old key gone, every value opens.
    std::fs::remove_file(saker.data().join("encryption.key")).unwrap();
    let saker = saker.with_env("SAKER_SECRET_JDBC_SECRET", passphrase);
    for n in 0..3 {
        saker.ok(
            &["secret", "rollback", "company", &format!("K{n}"), "1"],
            None,
        );
    }
    let out = saker.ok(&["secret", "rekey"], None);
    assert!(
        out.contains("re-encrypted 0 value(s); 6 already were"),
        "{out}"
    );
    let audit = saker.ok(&["audit", "list", "--actor", "cli:alice"], None);
    assert_eq!(
        audit.lines().filter(|l| l.contains(" rekey ")).count(),
        3,
        "{audit}"
    );
}

#[test]
fn the_env_backend_lists_its_secrets_and_refuses_writes() {
    let saker = Saker::new()
        .with_env("SAKER_SECRET_TYPE", "env")
        .with_env("SECRET_MYPASSWORD", "bXlQcml2YXRlQ29kZQ==")
        .with_env("SECRET_BROKEN", "%%%");
    let listing = saker.ok(&["secret", "list", "company.team"], None);
    assert!(
        line_of(&listing, "MYPASSWORD").contains("(env)"),
        "{listing}"
    );
    let out = saker.run(&["secret", "set", "company", "X"], Some("some-value"));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("read-only") && err.contains("SECRET_<KEY>"),
        "{err}"
    );
    assert!(err.contains("SECRET_BROKEN is ignored"), "{err}");
    assert!(!err.contains("%%%"), "{err}");
}

#[test]
fn encode_env_prints_the_encoded_file() {
    let saker = Saker::new();
    let file = saker.dir.path().join(".env");
    std::fs::write(
        &file,
        "MYPASSWORD=myPrivateCode\nexport GITHUB_ACCESS_TOKEN=mypat",
    )
    .unwrap();
    let out = saker.ok(&["secret", "encode-env", file.to_str().unwrap()], None);
    assert_eq!(
        out,
        "SECRET_MYPASSWORD=bXlQcml2YXRlQ29kZQ==\nSECRET_GITHUB_ACCESS_TOKEN=bXlwYXQ=\n"
    );
    assert!(!saker.data().exists(), "encode-env needs no data directory");
    std::fs::write(&file, "NO_EQUALS_SIGN\n").unwrap();
    let bad = saker.run(&["secret", "encode-env", file.to_str().unwrap()], None);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("line 1"), "{bad:?}");
}

#[test]
fn concurrent_processes_write_the_same_secret() {
    let saker = Saker::new();
    saker.set("company", "SHARED", "initial-value-0000");
    let children: Vec<_> = (0..8)
        .map(|n| {
            let mut child = saker
                .command(&["secret", "set", "company", "SHARED"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(format!("concurrent-value-{n:04}").as_bytes())
                .unwrap();
            drop(pipe);
            child
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let info = saker.ok(&["secret", "info", "company", "SHARED"], None);
    assert!(info.contains("version:     9\n"), "{info}");
    let versions = saker.ok(&["secret", "versions", "company", "SHARED"], None);
    assert_eq!(
        versions.lines().count(),
        10,
        "header + 9 versions: {versions}"
    );
    let verify = saker.ok(&["audit", "verify"], None);
    assert!(verify.contains("intact: 9 events"), "{verify}");
}
