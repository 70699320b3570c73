//! `saker audit`, driven as a user would: a trail edited, deleted or reordered by hand makes
//! `verify` exit 1 naming the event; `list` filters by namespace, key, actor and time.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

struct Saker {
    dir: tempfile::TempDir,
}

impl Saker {
    /// A data directory with five audited writes (events 1 to 5).
    fn with_trail() -> Self {
        let saker = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        for (namespace, key) in [
            ("company", "A"),
            ("company.team", "B"),
            ("company", "A"),
            ("other", "C"),
            ("company.team", "A"),
        ] {
            let out = saker.run(&["secret", "set", namespace, key], Some("value-of-eight"));
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        saker
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_saker"))
            .args(args)
            .env("SAKER_DATA_DIR", self.data())
            .env("USER", "alice")
            .env_remove("SAKER_CONFIG")
            .env_remove("SAKER_ENCRYPTION_SECRET_KEY")
            .env_remove("SAKER_SECRET_TYPE")
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

    fn tamper(&self, sql: &str) {
        rusqlite::Connection::open(self.data().join("saker.db"))
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }

    /// `audit verify`: its exit code and stdout.
    fn verify(&self) -> (Option<i32>, String) {
        let out = self.run(&["audit", "verify"], None);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// The sequence numbers `audit list ARGS` prints.
    fn seqs(&self, args: &[&str]) -> Vec<i64> {
        let out = self.run(&[&["audit", "list"], args].concat(), None);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next()?.parse().ok())
            .collect()
    }
}

#[test]
fn an_untouched_trail_verifies() {
    let saker = Saker::with_trail();
    let (code, out) = saker.verify();
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("audit trail intact: 5 events, last event 5"),
        "{out}"
    );
}

#[test]
fn an_edited_event_fails_verification_and_is_named() {
    let saker = Saker::with_trail();
    saker.tamper("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3");
    let (code, out) = saker.verify();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("after 2 intact events: event 3 was edited"),
        "{out}"
    );
}

#[test]
fn a_deleted_event_fails_verification_and_is_named() {
    let saker = Saker::with_trail();
    saker.tamper("DELETE FROM audit_events WHERE seq = 2");
    let (code, out) = saker.verify();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("event 2 was deleted"), "{out}");
}

#[test]
fn reordered_events_fail_verification_and_are_named() {
    let saker = Saker::with_trail();
    saker.tamper(
        "UPDATE audit_events SET seq = 100 WHERE seq = 4;
         UPDATE audit_events SET seq = 4 WHERE seq = 3;
         UPDATE audit_events SET seq = 3 WHERE seq = 100;",
    );
    let (code, out) = saker.verify();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("event 3 was reordered"), "{out}");
}

#[test]
fn deleting_the_newest_event_is_noticed() {
    let saker = Saker::with_trail();
    saker.tamper("DELETE FROM audit_events WHERE seq = 5");
    let (code, out) = saker.verify();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("event 5 was deleted"), "{out}");
}

#[test]
fn list_filters_by_namespace_key_actor_and_time() {
    let saker = Saker::with_trail();
    assert_eq!(saker.seqs(&[]), [1, 2, 3, 4, 5]);
    assert_eq!(saker.seqs(&["--namespace", "company"]), [1, 2, 3, 5]);
    assert_eq!(saker.seqs(&["--namespace", "company.team"]), [2, 5]);
    assert_eq!(saker.seqs(&["--key", "A"]), [1, 3, 5]);
    assert_eq!(
        saker.seqs(&["--namespace", "company", "--key", "A"]),
        [1, 3, 5]
    );
    assert_eq!(saker.seqs(&["--actor", "cli:alice"]), [1, 2, 3, 4, 5]);
    assert!(saker.seqs(&["--actor", "cli:bob"]).is_empty());
    assert_eq!(saker.seqs(&["--since", "1h"]), [1, 2, 3, 4, 5]);
    assert!(saker.seqs(&["--until", "1h"]).is_empty());
    assert!(saker.seqs(&["--since", "2099-01-01"]).is_empty());
    assert_eq!(
        saker.seqs(&["--until", "2099-01-01T00:00:00Z"]),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(saker.seqs(&["--limit", "2"]), [1, 2]);
    let out = saker.run(&["audit", "list"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("value-of-eight"),
        "an audit line shows a value"
    );
    let header = text.lines().next().unwrap_or("");
    assert!(
        header.starts_with("SEQ") && header.contains("ACTOR"),
        "{text}"
    );
    let bad = saker.run(&["audit", "list", "--since", "yesterday-ish"], None);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--since"));
}

#[test]
fn verify_without_a_database_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["audit", "verify"])
        .env("SAKER_DATA_DIR", dir.path())
        .env_remove("SAKER_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Saker database"));
}
