//! The `saker` binary's flow, execution and expression commands, driven as a user would.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn saker(data: &Path) -> Command {
    let mut cmd = Command::cargo_bin("saker").unwrap();
    cmd.env("SAKER_DATA_DIR", data)
        .env_remove("SAKER_CONFIG")
        .env_remove("SAKER_ENCRYPTION_SECRET_KEY");
    cmd
}

#[test]
fn version_prints_the_package_version() {
    let dir = tempfile::tempdir().unwrap();
    saker(dir.path())
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn hello_flow_runs_and_prints_its_log_line() {
    let dir = tempfile::tempdir().unwrap();
    saker(dir.path())
        .args(["flow", "run"])
        .arg(examples().join("hello.yml"))
        .assert()
        .success()
        .stdout(
            predicate::str::is_match(
                r"\d\d:\d\d:\d\d INFO  hello Hello from Saker! Today is \d{4}-\d\d-\d\d\.",
            )
            .unwrap(),
        )
        .stdout(predicate::str::contains("SUCCESS"));
}

#[test]
fn failing_shell_command_fails_the_flow_with_stderr_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    saker(dir.path())
        .args(["flow", "run"])
        .arg(examples().join("shell-fails.yml"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("WARN  broken about to fail"))
        .stdout(predicate::str::contains("command failed with exit code 3"))
        .stdout(predicate::str::contains("FAILED"))
        .stdout(predicate::str::contains("this never runs").not());
}

#[test]
fn inputs_are_coerced_and_outputs_printed() {
    let dir = tempfile::tempdir().unwrap();
    saker(dir.path())
        .args(["flow", "run"])
        .arg(examples().join("inputs.yml"))
        .args(["--input", "rows=4"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "building the report of 2026-11-22",
        ))
        .stdout(predicate::str::contains(
            "\"summary\": \"2026-11-22: 40 lines\"",
        ));
    saker(dir.path())
        .args(["flow", "run"])
        .arg(examples().join("inputs.yml"))
        .args(["--input", "rows=many"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("rows"));
}

#[test]
fn validate_reports_each_mistake_with_its_position() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/three-mistakes.yml");
    let dir = tempfile::tempdir().unwrap();
    let out = saker(dir.path())
        .args(["flow", "validate"])
        .arg(&file)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let prefix = format!("{}:", file.display());
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(&prefix)).collect();
    assert_eq!(lines.len(), 3, "{text}");
    let re = regex_lite(&prefix);
    for line in &lines {
        assert!(re(line), "not FILE:LINE:COL: {line}");
    }
    assert!(
        text.contains("did you mean 'io.kestra.plugin.core.log.Log'"),
        "{text}"
    );
}

/// `FILE:LINE:COL: message` without a regex dependency.
fn regex_lite(prefix: &str) -> impl Fn(&str) -> bool + '_ {
    move |line: &str| {
        let rest = &line[prefix.len()..];
        let mut parts = rest.splitn(3, ':');
        let line_no = parts.next().unwrap_or("");
        let col = parts.next().unwrap_or("");
        let msg = parts.next().unwrap_or("");
        line_no.parse::<u32>().is_ok() && col.parse::<u32>().is_ok() && msg.starts_with(' ')
    }
}

#[test]
fn every_example_validates() {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    saker(dir.path())
        .args(["flow", "validate"])
        .args(&files)
        .assert()
        .success();
}

#[test]
fn execution_list_and_logs_show_what_ran() {
    let dir = tempfile::tempdir().unwrap();
    saker(dir.path())
        .args(["flow", "run"])
        .arg(examples().join("hello.yml"))
        .assert()
        .success();
    let out = saker(dir.path())
        .args(["execution", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("company.team.hello"))
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let id = text
        .lines()
        .find(|l| l.contains("company.team.hello"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    saker(dir.path())
        .args(["execution", "logs", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("Hello from Saker!"));
    saker(dir.path())
        .args(["execution", "logs", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("execution nope not found"));
}

#[test]
fn expr_render_matches_the_issue_examples() {
    let dir = tempfile::tempdir().unwrap();
    saker(dir.path())
        .args(["expr", "render", "{{ 'myPrivateCode' | base64encode }}"])
        .assert()
        .success()
        .stdout("bXlQcml2YXRlQ29kZQ==\n");
    saker(dir.path())
        .args([
            "expr",
            "render",
            "{{ x | jq('.token') | first }}",
            "--context",
            r#"{"x":"{\"token\":\"T\"}"}"#,
        ])
        .assert()
        .success()
        .stdout("T\n");
    saker(dir.path())
        .args(["expr", "render", "{{ 'a' | uper }}"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("did you mean 'upper'"));
}

#[test]
fn sakers_own_log_is_masked_too() {
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("f.yml");
    std::fs::write(
        &flow,
        "id: f\nnamespace: n\ninputs:\n  - id: pw\n    type: SECRET\ntasks:\n  - id: boom\n    type: Fail\n    errorMessage: \"bad password {{ inputs.pw }}\"\n",
    )
    .unwrap();
    let out = saker(&dir.path().join("data"))
        .env("SAKER_LOG", "debug")
        .args(["flow", "run"])
        .arg(&flow)
        .args(["--input", "pw=correct-horse-battery"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stderr.contains("task attempt failed"), "{stderr}");
    assert!(stderr.contains("bad password ****"), "{stderr}");
    assert!(!stderr.contains("correct-horse-battery"));
    assert!(stdout.contains("ERROR boom bad password ****"), "{stdout}");
    assert!(!stdout.contains("correct-horse-battery"));
}

#[test]
fn expressions_max_steps_bounds_what_a_task_renders() {
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("loop.yml");
    std::fs::write(
        &flow,
        "id: loop\nnamespace: company.team\ntasks:\n  - id: count\n    type: io.kestra.plugin.core.log.Log\n    message: \"{% for i in range(1, 50000) %}{{ i }}{% endfor %}\"\n",
    )
    .unwrap();
    let config = dir.path().join("saker.yml");
    // Under the default budget the loop runs.
    saker(dir.path())
        .args(["flow", "run"])
        .arg(&flow)
        .assert()
        .success();
    // Under a small one it stops with an error that names the setting.
    std::fs::write(&config, "saker:\n  expressions:\n    max-steps: 10000\n").unwrap();
    saker(dir.path())
        .env("SAKER_CONFIG", &config)
        .args(["flow", "run"])
        .arg(&flow)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("expressions.max-steps"))
        .stdout(predicate::str::contains("FAILED"));
    // A value out of range is refused at start, naming the key.
    std::fs::write(&config, "saker:\n  expressions:\n    max-steps: 5\n").unwrap();
    saker(dir.path())
        .env("SAKER_CONFIG", &config)
        .args(["flow", "run"])
        .arg(&flow)
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "expressions.max-steps must be a number",
        ));
}
