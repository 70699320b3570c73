//! The tool tasks through the engine, each with its real program: Perl, Ruby, PHP, Lua, R and
//! Go scripts, Kestra's old Bash task, the AWS CLI against moto's S3 server, Ansible on
//! localhost, dbt on DuckDB, Terraform and gcloud. A secret handed to a tool as a credential
//! is masked in its output and absent from every byte the data directory holds. Python's
//! `dependencies` are in `python_dependencies.rs`.
//!
//! The programs come from `scripts/peers/cli-tools.sh` (`SAKER_TOOL_DIRS`, `SAKER_MOTO_SERVER`);
//! a test whose program is missing says `SKIPPED`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use saker_model::{Execution, Level, StateType};
use serde_json::json;

use common::data_dir::DataDir as Data;

const ACCESS_KEY: &str = "AKIAsakerTools7Q2W";
const SECRET_KEY: &str = "tools-secret-Zx81Lq3Vb6Nw";

fn data_dir() -> Data {
    Data::start(|dir, parts| {
        parts.secrets = Arc::new(common::KeyedSecrets::new([
            ("AK", ACCESS_KEY.to_owned()),
            ("SK", SECRET_KEY.to_owned()),
        ]));
        parts.sealer = Some(common::data_dir::sealer());
        parts.storage = Some(common::data_dir::storage(dir));
    })
}

async fn run_ok(data: &Data, flow: &str) -> (Execution, Vec<(Level, String)>) {
    let done = data.run(flow).await;
    let lines = data.levels(&done);
    assert_eq!(done.state.current, StateType::Success, "{lines:?}");
    (done, lines)
}

fn vars(execution: &Execution, task: &str) -> serde_json::Value {
    execution.task_run(task).unwrap().outputs["vars"].clone()
}

/// Fails unless no secret appears in the execution, its log or any byte under the data
/// directory (the SQLite file and the internal storage).
fn assert_no_secret(data: &Data, done: &Execution, lines: &[(Level, String)]) {
    let shown = serde_json::to_string(done).unwrap() + &format!("{lines:?}");
    for secret in [ACCESS_KEY, SECRET_KEY] {
        assert!(!shown.contains(secret), "a secret leaked: {shown}");
        for file in common::files_under(data.dir.path()) {
            let bytes = std::fs::read(&file).unwrap();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a secret is stored in {}",
                file.display()
            );
        }
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// A program of the tool directory (`SAKER_TOOL_DIRS`, the peer's venv).
fn tool(program: &str) -> Option<PathBuf> {
    let dirs = std::env::var_os("SAKER_TOOL_DIRS")?;
    std::env::split_paths(&dirs)
        .map(|d| d.join("bin").join(program))
        .find(|p| p.is_file())
}

fn skipped(what: &str) {
    eprintln!("SKIPPED: {what} (scripts/peers/cli-tools.sh installs it)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn perl_ruby_php_lua_r_and_go_scripts_and_commands_set_outputs() {
    let languages = [
        (
            "perl",
            r#"print "::{\"outputs\":{\"lang\":\"perl\",\"n\":" . (6 * 7) . "}}::\n";"#,
        ),
        (
            "ruby",
            r#"puts "::{\"outputs\":{\"lang\":\"ruby\",\"n\":#{6 * 7}}}::""#,
        ),
        (
            "php",
            r#"<?php echo "::{\"outputs\":{\"lang\":\"php\",\"n\":" . (6 * 7) . "}}::\n";"#,
        ),
        (
            "lua",
            r#"print("::{\"outputs\":{\"lang\":\"lua\",\"n\":" .. (6 * 7) .. "}}::")"#,
        ),
        (
            "r",
            r#"cat(sprintf('::{"outputs":{"lang":"r","n":%d}}::\n', 6L * 7L))"#,
        ),
        (
            "go",
            r#"package main

import "fmt"

func main() {
	fmt.Printf("::{\"outputs\":{\"lang\":\"go\",\"n\":%d}}::\n", 6*7)
}"#,
        ),
    ];
    let data = data_dir();
    for (lang, script) in languages {
        let program = match lang {
            "lua" => "lua5.4",
            "r" => "Rscript",
            other => other,
        };
        if !on_path(program) {
            skipped(program);
            continue;
        }
        let script: String = script.lines().map(|l| format!("      {l}\n")).collect();
        let flow = format!(
            r#"
id: {lang}-script
namespace: company.team
tasks:
  - id: script
    type: io.kestra.plugin.scripts.{lang}.Script
    script: |
{script}
  - id: commands
    type: {lang}.Commands
    commands:
      - echo "{lang} commands ran"
"#
        );
        let (done, lines) = run_ok(&data, &flow).await;
        assert_eq!(
            vars(&done, "script"),
            json!({"lang": lang, "n": 42}),
            "{lines:?}"
        );
        let ran = format!("{lang} commands ran");
        assert!(lines.iter().any(|(_, m)| *m == ran), "{lines:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_language_program_is_named_with_how_to_install_it() {
    if on_path("julia") {
        eprintln!("SKIPPED: julia is installed here, so it cannot be missing");
        return;
    }
    let data = data_dir();
    let done = data
        .run(
            r#"
id: julia
namespace: company.team
tasks:
  - id: jl
    type: io.kestra.plugin.scripts.julia.Script
    script: println("never")
"#,
        )
        .await;
    let lines = data.levels(&done);
    assert_eq!(done.state.current, StateType::Failed, "{lines:?}");
    assert!(
        lines.iter().any(|(l, m)| *l == Level::Error
            && m.contains("needs the program 'julia'")
            && m.contains("julialang.org")),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kestras_old_bash_task_runs_with_its_interpreter_counts_lines_and_keeps_named_files() {
    let data = data_dir();
    let (done, _) = run_ok(
        &data,
        r#"
id: old-bash
namespace: company.team
tasks:
  - id: bash
    type: io.kestra.core.tasks.scripts.Bash
    interpreter: /bin/bash
    interpreterArgs: ["-c"]
    exitOnFailed: false
    outputFiles: [first]
    files: [second]
    commands:
      - echo "bash $BASH_VERSION" | cut -c1-6
      - false
      - echo '::{"outputs":{"after":"false"}}::'
      - echo to-stderr >&2
      - echo 1 >> {{ outputFiles.first }}
      - echo 2 > second
"#,
    )
    .await;
    let run = done.task_run("bash").unwrap();
    let mut names: Vec<&String> = run.outputs["outputFiles"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    names.sort();
    assert_eq!(names, ["first", "second"]);
    assert_eq!(run.outputs["vars"], json!({"after": "false"}));
    assert_eq!(run.outputs["exitCode"], 0);
    // The outputs line is stdout's second line; the protocol does not hide it from the count.
    assert_eq!(run.outputs["stdOutLineCount"], 2);
    assert_eq!(run.outputs["stdErrLineCount"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_docker_task_runner_and_a_container_image_are_reported_once_and_not_used() {
    let data = data_dir();
    let (_, lines) = run_ok(
        &data,
        r#"
id: docker-runner
namespace: company.team
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      pullPolicy: IF_NOT_PRESENT
    containerImage: ubuntu:24.04
    commands:
      - echo first
      - echo second
"#,
    )
    .await;
    let notes: Vec<&String> = lines
        .iter()
        .filter(|(l, m)| *l == Level::Warn && m.contains("not used"))
        .map(|(_, m)| m)
        .collect();
    assert_eq!(notes.len(), 1, "{lines:?}");
    assert!(
        notes[0].contains("taskRunner 'io.kestra.plugin.scripts.runner.docker.Docker'")
            && notes[0].contains("containerImage 'ubuntu:24.04'"),
        "{notes:?}"
    );
    assert!(
        lines.contains(&(Level::Info, "second".to_owned())),
        "{lines:?}"
    );
}

/// moto's server on a free port, killed when dropped.
struct Moto {
    child: std::process::Child,
    port: u16,
}

impl Moto {
    fn start(program: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Ready once it accepts connections (it exits on a startup error: then the flow fails).
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self { child, port }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_talks_to_moto_with_credentials_that_stay_masked() {
    let (Some(_), Some(moto)) = (
        tool("aws"),
        std::env::var_os("SAKER_MOTO_SERVER").map(PathBuf::from),
    ) else {
        return skipped("the AWS CLI or moto's server");
    };
    let moto = Moto::start(&moto);
    let data = data_dir();
    let flow = format!(
        r#"
id: aws
namespace: company.team
tasks:
  - id: s3
    type: io.kestra.plugin.aws.cli.AwsCLI
    accessKeyId: "{{{{ secret('AK') }}}}"
    secretKeyId: "{{{{ secret('SK') }}}}"
    region: eu-west-1
    endpointOverride: http://127.0.0.1:{port}
    commands:
      - aws s3 mb s3://saker-tools
      - echo hello > hello.txt
      - aws s3 cp hello.txt s3://saker-tools/hello.txt
      - aws s3 ls s3://saker-tools
      - echo "using key $AWS_ACCESS_KEY_ID with $AWS_SECRET_ACCESS_KEY"
      - echo "::{{\"outputs\":{{\"objects\":$(aws s3api list-objects --bucket saker-tools --query 'length(Contents)'),\"format\":\"$AWS_DEFAULT_OUTPUT\"}}}}::"
"#,
        port = moto.port
    );
    let (done, lines) = run_ok(&data, &flow).await;
    // A process handed a secret has its string outputs sealed: they are stored encrypted.
    let s3 = vars(&done, "s3");
    assert_eq!(s3["objects"], 1, "{s3}");
    assert!(s3["format"].get("$sealed").is_some(), "{s3}");
    assert!(
        lines.iter().any(|(_, m)| m.ends_with("hello.txt")),
        "{lines:?}"
    );
    assert!(
        lines.contains(&(Level::Info, "using key **** with ****".to_owned())),
        "{lines:?}"
    );
    assert_no_secret(&data, &done, &lines);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ansible_runs_a_playbook_on_localhost_with_its_configuration() {
    if tool("ansible-playbook").is_none() {
        return skipped("ansible-core");
    }
    let data = data_dir();
    let (done, lines) = run_ok(
        &data,
        r#"
id: ansible
namespace: company.team
tasks:
  - id: play
    type: io.kestra.plugin.ansible.cli.AnsibleCLI
    env:
      LC_ALL: C.UTF-8
    ansibleConfig: |
      [defaults]
      nocows = True
      retry_files_enabled = False
    inputFiles:
      playbook.yml: |
        - hosts: localhost
          connection: local
          gather_facts: false
          tasks:
            - name: greet
              ansible.builtin.debug:
                msg: "hello from ansible with {{ secret('SK') }}"
    commands:
      - ansible-playbook -i localhost, playbook.yml
      - echo "config $(basename "$ANSIBLE_CONFIG")"
"#,
    )
    .await;
    assert!(
        lines.contains(&(Level::Info, "config ansible.cfg".to_owned())),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(_, m)| m.contains("\"msg\": \"hello from ansible with ****\"")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|(_, m)| m.contains("ok=1")), "{lines:?}");
    assert_no_secret(&data, &done, &lines);
}

/// A dbt task of `type_` with `properties`, on a DuckDB project of two models (`answer` and
/// `skipped`) under `dir` of the working directory.
fn dbt_flow(type_: &str, properties: &str, dir: &str) -> String {
    format!(
        r#"
id: dbt
namespace: company.team
tasks:
  - id: build
    type: {type_}
{properties}
    env:
      DBT_SEND_ANONYMOUS_USAGE_STATS: "false"
    profiles: |
      saker_dbt:
        target: dev
        outputs:
          dev:
            type: duckdb
            path: saker.duckdb
    inputFiles:
      {dir}dbt_project.yml: |
        name: saker_dbt
        version: "1.0.0"
        profile: saker_dbt
      {dir}models/answer.sql: |
        select 6 * 7 as answer
      {dir}models/skipped.sql: |
        select 1 as one
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dbt_builds_a_duckdb_project_from_its_profiles() {
    if tool("dbt").is_none() {
        return skipped("dbt-duckdb");
    }
    let data = data_dir();
    let flow = dbt_flow(
        "io.kestra.plugin.dbt.cli.DbtCLI",
        "    logFormat: JSON\n    engine: CORE\n    commands:\n      - dbt build --no-use-colors\n    outputFiles:\n      - saker.duckdb",
        "",
    );
    let (done, lines) = run_ok(&data, &flow).await;
    assert!(
        lines
            .iter()
            .any(|(_, m)| m.contains("Completed successfully")),
        "{lines:?}"
    );
    // logFormat reached dbt: its lines are JSON.
    assert!(
        lines
            .iter()
            .any(|(_, m)| m.starts_with('{') && m.contains("\"info\"")),
        "{lines:?}"
    );
    let files = &done.task_run("build").unwrap().outputs["outputFiles"];
    assert!(files.get("saker.duckdb").is_some(), "{files}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_applies_a_local_configuration() {
    if !on_path("terraform") {
        return skipped("terraform");
    }
    let data = data_dir();
    let (done, _) = run_ok(
        &data,
        r#"
id: terraform
namespace: company.team
tasks:
  - id: tf
    type: io.kestra.plugin.terraform.cli.TerraformCLI
    env:
      CHECKPOINT_DISABLE: "1"
      TF_IN_AUTOMATION: "1"
    inputFiles:
      main.tf: |
        output "answer" {
          value = 6 * 7
        }
    commands:
      - terraform init -input=false -no-color
      - terraform apply -auto-approve -input=false -no-color
      - echo "::{\"outputs\":{\"answer\":$(terraform output -raw answer)}}::"
"#,
    )
    .await;
    assert_eq!(vars(&done, "tf"), json!({"answer": 42}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcloud_gets_its_project_and_a_key_file_that_is_masked_and_removed() {
    if !on_path("gcloud") {
        return skipped("gcloud");
    }
    let data = data_dir();
    let (done, lines) = run_ok(
        &data,
        r#"
id: gcloud
namespace: company.team
tasks:
  - id: gc
    type: io.kestra.plugin.gcp.cli.GCloudCLI
    projectId: saker-project-1
    serviceAccount: "{{ secret('SK') }}"
    outputFiles: ["*"]
    commands:
      - echo "project $(gcloud config get-value project 2>/dev/null)"
      - echo "key $(cat "$GOOGLE_APPLICATION_CREDENTIALS")"
"#,
    )
    .await;
    assert!(
        lines.contains(&(Level::Info, "project saker-project-1".to_owned())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&(Level::Info, "key ****".to_owned())),
        "{lines:?}"
    );
    // The key file was removed before outputFiles were matched.
    let files = &done.task_run("gc").unwrap().outputs["outputFiles"];
    assert!(
        files
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.contains("service-account")),
        "{files}"
    );
    assert_no_secret(&data, &done, &lines);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dbt_build_runs_the_selected_models_and_keeps_its_results() {
    if tool("dbt").is_none() {
        return skipped("dbt-duckdb");
    }
    let data = data_dir();
    let flow = dbt_flow(
        "io.kestra.plugin.dbt.cli.Build",
        "    projectDir: project\n    thread: 2\n    select: [\"answer\"]",
        "project/",
    );
    let (done, lines) = run_ok(&data, &flow).await;
    let files = done.task_run("build").unwrap().outputs["outputFiles"]
        .as_object()
        .unwrap()
        .clone();
    let mut names: Vec<&String> = files.keys().collect();
    names.sort();
    assert_eq!(names, ["manifest.json", "run_results.json"], "{lines:?}");
    // Only the selected model ran.
    assert!(lines.iter().any(|(_, m)| m.contains("answer")), "{lines:?}");
    assert!(
        lines.iter().all(|(_, m)| !m.contains("skipped")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(_, m)| m.contains("Completed successfully")),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_the_sandbox_cannot_find_is_explained() {
    if !on_path("terraform") {
        return skipped("terraform");
    }
    let data = data_dir();
    let done = data
        .run(
            r#"
id: not-found
namespace: company.team
tasks:
  - id: tf
    type: io.kestra.plugin.terraform.cli.TerraformCLI
    commands:
      - saker-no-such-program-q7 init
"#,
        )
        .await;
    let lines = data.levels(&done);
    assert_eq!(done.state.current, StateType::Failed, "{lines:?}");
    assert!(
        lines.iter().any(|(l, m)| *l == Level::Error
            && m.contains("exit code 127")
            && m.contains("'terraform'")
            && m.contains("SAKER_TOOL_DIRS")),
        "{lines:?}"
    );
}
