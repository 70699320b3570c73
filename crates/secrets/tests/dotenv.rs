//! `saker secret encode-env`: the data-driven cases under `tests/dotenv/` plus properties.

use std::fs;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use saker_secrets::dotenv::{encode_env, parse};
use saker_secrets::{EnvSecretStore, Lookup, Namespace, SecretStore};

#[test]
fn cases_under_tests_dotenv() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dotenv");
    let mut inputs: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "env"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "cases missing from {}", dir.display());

    for input_path in inputs {
        let name = input_path
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let input = fs::read_to_string(&input_path).unwrap();
        let expected = fs::read_to_string(input_path.with_extension("expected"))
            .unwrap_or_else(|_| panic!("{name}.expected is missing"));
        let expected_warnings =
            fs::read_to_string(input_path.with_extension("warnings")).unwrap_or_default();

        match (encode_env(&input), expected.strip_prefix("error: ")) {
            (Ok(encoded), None) => {
                assert_eq!(encoded.text.as_str(), expected, "{name}: output");
                let warnings: String = encoded
                    .warnings
                    .iter()
                    .map(|warning| format!("{warning}\n"))
                    .collect();
                assert_eq!(warnings, expected_warnings, "{name}: warnings");
            }
            (Err(err), Some(message)) => {
                assert_eq!(err.to_string(), message.trim_end(), "{name}: error");
                assert!(!format!("{err} {err:?}").contains("TOPSECRET"), "{name}");
            }
            (Ok(_), Some(message)) => panic!("{name}: expected error {message:?}, got output"),
            (Err(err), None) => panic!("{name}: unexpected error: {err}"),
        }
    }
}

#[test]
fn encoded_output_loads_into_the_env_backend() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dotenv");
    let input = fs::read_to_string(dir.join("edge_cases.env")).unwrap();
    let encoded = encode_env(&input).unwrap();
    let vars: Vec<(String, String)> = encoded
        .text
        .lines()
        .map(|line| {
            let (name, value) = line.split_once('=').unwrap();
            (name.to_owned(), value.to_owned())
        })
        .collect();
    let store = EnvSecretStore::from_vars(vars);
    assert!(store.warnings().is_empty(), "{:?}", store.warnings());

    let ns = Namespace::parse("company").unwrap();
    let get = |key: &str| match store.get("main", &ns, key).unwrap() {
        Lookup::Found { value, .. } => value.expose().to_owned(),
        other => panic!("{key}: {other:?}"),
    };
    assert_eq!(get("MULTI"), "line one\nline two");
    assert_eq!(get("already"), "myPrivateCode");
    assert_eq!(get("UNICODE"), "pässwörd ✓");
    assert_eq!(get("EQUALS"), "a=b==c");
}

#[test]
fn parse_reports_lines_and_forms() {
    let entries = parse("\n# c\nA=1\nB={{ \"x\" | base64encode }}").unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!((entries[0].line, entries[0].key.as_str()), (3, "A"));
    assert_eq!(entries[1].line, 4);
    assert_eq!(entries[1].value.expose(), "x");
}

/// Writes `value` as a double-quoted .env value.
fn quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

proptest! {
    #[test]
    fn never_panics(input in "\\PC*(\n\\PC*){0,5}") {
        let _ = encode_env(&input);
    }

    #[test]
    fn quoted_values_round_trip(value in "[^\u{0}]{1,40}", key in "[A-Z_][A-Z0-9_]{0,10}") {
        prop_assume!(!key.starts_with("SECRET_"));
        let input = format!("{key}={}\n", quote(&value));
        let encoded = encode_env(&input).unwrap();
        let expected = format!("SECRET_{key}={}\n", STANDARD.encode(&value));
        prop_assert_eq!(encoded.text.as_str(), expected.as_str());
    }

    #[test]
    fn errors_never_repeat_the_value(value in "[a-z]{12,20}") {
        // A value broken in every way the parser reports: unterminated quote, bad trailing
        // text, bad template, and a prefixed key holding non-base64 text.
        for input in [
            format!("A='{value}\n"),
            format!("A=\"{value}\" {value}\n"),
            format!("A={{{{ \"{value}\" }}}}\n"),
            format!("SECRET_A={value}!\n"),
        ] {
            let err = encode_env(&input).unwrap_err();
            prop_assert!(!err.to_string().contains(&value));
        }
    }
}
