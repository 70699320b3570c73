//! Distributed Saker as separate processes for the worker group and metrics tests: a
//! throwaway PostgreSQL database, one configuration shared by every process, and `saker
//! server <role>` processes with their output in a log file, killed when dropped.
//!
//! A test binary declares, at its root: `mod common;` and
//! `#[path = "common/services_procs.rs"] mod procs;`.
#![allow(dead_code)] // each test binary uses a part

#[path = "../../../store/tests/common/pg.rs"]
pub mod pg;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::common::{eventually, free_port, http, json};

/// Every process's `encryption.secret-key` (they must share it).
const SECRET_KEY: &str = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";

/// PostgreSQL, the configuration and the data directory every process shares.
pub struct Deployment {
    pub url: String,
    pub config: PathBuf,
    pub data: PathBuf,
    logs: PathBuf,
    _dir: tempfile::TempDir,
    _pg: pg::PgCluster,
}

impl Deployment {
    /// Fast liveness (a death is seen within seconds) and small pools (PgCluster allows 60
    /// connections in all).
    pub fn start() -> Deployment {
        let pg = pg::PgCluster::start();
        let url = pg.create_database("saker");
        let dir = tempfile::tempdir().unwrap();
        let jdbc = url.replace("postgres://postgres@", "jdbc:postgresql://");
        let config = dir.path().join("saker.yml");
        std::fs::write(
            &config,
            format!(
                "saker:\n  repository: {{type: postgres}}\n  queue: {{type: postgres}}\n  \
                 encryption: {{secret-key: \"{SECRET_KEY}\"}}\n  server:\n    \
                 worker-task-restart-strategy: IMMEDIATELY\n    liveness: {{interval: 200ms, \
                 timeout: 2s, initial-delay: 1s, heartbeat-interval: 200ms}}\n\
                 datasources:\n  postgres:\n    url: \"{jdbc}\"\n    username: postgres\n    \
                 maximum-pool-size: 3\n"
            ),
        )
        .unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        Deployment {
            url,
            config,
            data: dir.path().join("data"),
            logs,
            _dir: dir,
            _pg: pg,
        }
    }

    /// Starts `saker server <role> <args>`, its output in `<logs>/<name>.log`.
    pub fn spawn(&self, role: &str, name: &str, args: &[&str]) -> Service {
        let log = self.logs.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_saker"))
            .args(["server", role])
            .args(args)
            .env("SAKER_CONFIG", &self.config)
            .env("SAKER_DATA_DIR", &self.data)
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        Service {
            child,
            name: name.to_owned(),
            log,
        }
    }

    /// A webserver on a free port, once its API answers; returns it and its port.
    pub fn webserver(&self) -> (Service, u16) {
        let port = free_port();
        let mut service = self.spawn("webserver", "webserver", &["--port", &port.to_string()]);
        eventually("the webserver answering /health", || {
            service.check_alive()?;
            match http(port, "GET", "/health", None) {
                Ok((200, _)) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        });
        (service, port)
    }

    /// A connection to the test database, for what no command shows.
    pub fn sql(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }

    /// The instance that claimed the latest job of task run `task_run_id`.
    pub fn job_holder(&self, task_run_id: &str) -> Option<String> {
        self.sql()
            .query_opt(
                "SELECT claimed_by FROM worker_jobs WHERE task_run_id = $1 \
                 ORDER BY seq DESC LIMIT 1",
                &[&task_run_id],
            )
            .unwrap()
            .and_then(|row| row.get(0))
    }
}

/// A service process; killed with SIGKILL when dropped.
pub struct Service {
    child: Child,
    pub name: String,
    log: PathBuf,
}

impl Service {
    /// What it printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics, with its log, once the process has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait().unwrap() {
            None => Ok(()),
            Some(status) => panic!("{} exited with {status}:\n{}", self.name, self.log()),
        }
    }

    /// The service instance id it printed (`Saker <role> <id> started`).
    pub fn instance_id(&mut self) -> String {
        let name = self.name.clone();
        eventually(&format!("{name}'s instance id"), || {
            self.check_alive()?;
            self.log()
                .lines()
                .find_map(|line| {
                    let rest = line.strip_prefix("Saker ")?;
                    let (_role, rest) = rest.split_once(' ')?;
                    let (id, tail) = rest.split_once(' ')?;
                    tail.starts_with("started").then(|| id.to_owned())
                })
                .ok_or_else(|| "not registered yet".to_owned())
        })
    }

    /// Waits until it printed `text`.
    pub fn wait_log(&mut self, text: &str) {
        let name = self.name.clone();
        eventually(&format!("{name} printing {text:?}"), || {
            self.check_alive()?;
            let log = self.log();
            if log.contains(text) { Ok(()) } else { Err(log) }
        });
    }

    /// `kill -9`, and reaps it.
    pub fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts an execution of `namespace.flow` through the API; returns its id.
pub fn start_execution(port: u16, namespace: &str, flow: &str) -> String {
    let (status, created) = json(
        port,
        "POST",
        &format!("/api/v1/main/executions/{namespace}/{flow}"),
        None,
    );
    assert_eq!(status, 200, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

/// The execution as the API shows it.
pub fn execution(port: u16, id: &str) -> Value {
    json(port, "GET", &format!("/api/v1/main/executions/{id}"), None).1
}

/// The execution's log lines as the API shows them.
pub fn logs(port: u16, id: &str) -> Vec<Value> {
    match json(port, "GET", &format!("/api/v1/main/logs/{id}"), None).1 {
        Value::Array(lines) => lines,
        other => panic!("no log lines: {other}"),
    }
}

/// The task run of `task_id` in `execution`.
pub fn task_run<'a>(execution: &'a Value, task_id: &str) -> &'a Value {
    execution["taskRunList"]
        .as_array()
        .and_then(|runs| runs.iter().find(|run| run["taskId"] == task_id))
        .unwrap_or_else(|| panic!("no task run of {task_id}: {execution}"))
}
