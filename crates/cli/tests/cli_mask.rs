//! `saker mask` as a pipeline filter.

use assert_cmd::Command;
use predicates::prelude::*;

#[test]
fn masks_secrets_from_a_file_and_their_encodings() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets.txt");
    std::fs::write(&file, "hunter2-long\nuser:password\n").unwrap();
    Command::cargo_bin("saker")
        .unwrap()
        .args(["mask", "--secrets-file"])
        .arg(&file)
        .write_stdin(
            "login hunter2-long ok\nAuthorization: Basic dXNlcjpwYXNzd29yZA==\nclean line\n",
        )
        .assert()
        .success()
        .stdout("login **** ok\nAuthorization: Basic ****\nclean line\n");
}

#[test]
fn masks_secret_env_values_and_refuses_bad_ones_by_name() {
    Command::cargo_bin("saker")
        .unwrap()
        .args(["mask", "--env-prefix", "SECRET_"])
        .env("SECRET_MYPASSWORD", "bXlQcml2YXRlQ29kZQ==")
        .write_stdin("pw=myPrivateCode\n")
        .assert()
        .success()
        .stdout("pw=****\n");
    Command::cargo_bin("saker")
        .unwrap()
        .args(["mask", "--env-prefix", "SECRET_"])
        .env("SECRET_BROKEN", "not base64 !!")
        .write_stdin("x\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("SECRET_BROKEN"))
        .stderr(predicate::str::contains("not base64 !!").not());
}

#[test]
fn needs_a_source_of_secrets() {
    Command::cargo_bin("saker")
        .unwrap()
        .arg("mask")
        .write_stdin("x\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--secrets-file"));
}
