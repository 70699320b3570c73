//! A distributed Saker on this machine for the tests: a throwaway PostgreSQL cluster and
//! database, one configuration file shared by every process, and `saker server executor |
//! worker | webserver | scheduler` as separate processes, each with its own log file.
//!
//! A test binary using it declares, at its root:
//! ```ignore
//! mod common;
//! #[path = "common/distributed.rs"]
//! mod distributed;
//! ```
//! (`common` gives the HTTP client and `eventually`; PostgreSQL's cluster comes from
//! crates/store/tests/common/pg.rs, which needs PostgreSQL's server binaries and fails
//! naming them when they are missing.)
//!
//! - [`Cluster::start`] with [`Settings`] (restart strategy, grace period, liveness, pool
//!   size) starts PostgreSQL and writes the configuration.
//! - [`Cluster::spawn`] starts one service ([`Role`]) with extra arguments; [`Cluster::webserver`]
//!   also waits for its API. A [`Service`] is killed (`kill -9`) when dropped.
//! - [`Service::kill_9`], [`Service::sigterm`] (returns the exit status), [`Service::instance_id`]
//!   (the service instance it registered), [`Service::log`] (what it printed).
//! - [`Api`]: deploy a flow, create executions, wait for their end, read their logs and the
//!   `/api/v1/instance/services` rows.
//! - [`Cluster::services`] (`saker service list --json`), [`Cluster::instance_state`],
//!   [`Cluster::jobs_of`] (the `worker_jobs` rows of a task run: who claimed which attempt),
//!   [`Cluster::results_of`] (the `worker_results` rows: who submitted), [`Cluster::sql`].
#![allow(dead_code)] // each test binary uses a part

#[path = "../../../store/tests/common/pg.rs"]
pub mod pg;

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{eventually, free_port, json};

/// Fast liveness, so that a death is seen within a few seconds (the defaults are 5s/45s/45s/3s).
pub const FAST_LIVENESS: &str =
    "{interval: 200ms, timeout: 2s, initial-delay: 1s, heartbeat-interval: 200ms}";

/// Every process's `encryption.secret-key` (each must share it; a data dir's key file is
/// per machine).
const SECRET_KEY: &str = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";

/// The `saker` binary under test: `SAKER_BIN` when set (a target directory shared between
/// worktrees may have `target/debug/saker` rebuilt from another checkout while a test runs:
/// point `SAKER_BIN` at this worktree's `target/debug/deps/saker-<hash>`), else Cargo's.
pub fn saker_bin() -> PathBuf {
    std::env::var_os("SAKER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_saker")))
}

/// What the configuration file says, beyond the database and the key.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `server.worker-task-restart-strategy`: NEVER, IMMEDIATELY or
    /// AFTER_TERMINATION_GRACE_PERIOD.
    pub restart_strategy: &'static str,
    /// `server.termination-grace-period` (e.g. `3s`); the default (5m) when `None`.
    pub grace_period: Option<&'static str>,
    /// `server.liveness`, as a YAML flow mapping.
    pub liveness: &'static str,
    /// `datasources.postgres.maximum-pool-size` of every process: PgCluster allows 60
    /// connections in all, and each process opens at most about twice this many.
    pub pool_size: u32,
    /// More YAML under `saker:` (indented by two spaces, ending with a newline).
    pub extra: String,
}

impl Settings {
    /// Fast liveness, a pool of 3, and `restart_strategy`.
    pub fn with_strategy(restart_strategy: &'static str) -> Settings {
        Settings {
            restart_strategy,
            grace_period: None,
            liveness: FAST_LIVENESS,
            pool_size: 3,
            extra: String::new(),
        }
    }
}

/// A distributed service's command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Executor,
    Worker,
    Webserver,
    Scheduler,
}

impl Role {
    pub fn command(self) -> &'static str {
        match self {
            Role::Executor => "executor",
            Role::Worker => "worker",
            Role::Webserver => "webserver",
            Role::Scheduler => "scheduler",
        }
    }

    /// Its `type` in the service instance rows.
    pub fn service_type(self) -> &'static str {
        match self {
            Role::Executor => "EXECUTOR",
            Role::Worker => "WORKER",
            Role::Webserver => "WEBSERVER",
            Role::Scheduler => "SCHEDULER",
        }
    }
}

/// PostgreSQL, the shared configuration and data directory, and where the logs go. Stops
/// PostgreSQL and removes everything when dropped (drop the services first: they are
/// fields of the test, dropped before the cluster when declared after it).
pub struct Cluster {
    /// The database URL (`postgres://postgres@127.0.0.1:PORT/saker`).
    pub url: String,
    pub config: PathBuf,
    /// The data directory every process shares (one machine: the internal storage).
    pub data: PathBuf,
    /// Each service's log is `<logs>/<name>.log`.
    pub logs: PathBuf,
    dir: tempfile::TempDir,
    pg: pg::PgCluster,
}

impl Cluster {
    pub fn start(settings: &Settings) -> Cluster {
        let pg = pg::PgCluster::start();
        let url = pg.create_database("saker");
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let jdbc = url.replace("postgres://postgres@", "jdbc:postgresql://");
        let grace = settings
            .grace_period
            .map(|g| format!("    termination-grace-period: {g}\n"))
            .unwrap_or_default();
        let body = format!(
            "saker:\n  repository: {{type: postgres}}\n  queue: {{type: postgres}}\n  \
             encryption: {{secret-key: \"{SECRET_KEY}\"}}\n  server:\n    \
             worker-task-restart-strategy: {}\n{grace}    liveness: {}\n{}\
             datasources:\n  postgres:\n    url: \"{jdbc}\"\n    username: postgres\n    \
             maximum-pool-size: {}\n",
            settings.restart_strategy, settings.liveness, settings.extra, settings.pool_size
        );
        let config = dir.path().join("saker.yml");
        std::fs::write(&config, body).unwrap();
        Cluster {
            url,
            config,
            data,
            logs,
            dir,
            pg,
        }
    }

    /// Starts `saker server <role> <args>`, its stderr and stdout in `<logs>/<name>.log`.
    pub fn spawn(&self, role: Role, name: &str, args: &[&str]) -> Service {
        self.spawn_command(Command::new(saker_bin()), role, name, args, &self.config)
    }

    /// A webserver on a free port, once its API answers `/health`.
    pub fn webserver(&self, name: &str) -> (Service, Api) {
        let port = free_port();
        let mut service = self.spawn(Role::Webserver, name, &["--port", &port.to_string()]);
        let api = Api { port };
        eventually(&format!("the webserver {name} answering /health"), || {
            service.check_alive()?;
            match crate::common::http(port, "GET", "/health", None) {
                Ok((200, _)) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        });
        (service, api)
    }

    /// `saker service list --json`: every service instance row.
    pub fn services(&self) -> Vec<Value> {
        let out = Command::new(saker_bin())
            .args(["service", "list", "--json"])
            .env("SAKER_CONFIG", &self.config)
            .env("SAKER_DATA_DIR", &self.data)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let (ok, err) = (out.status.success(), String::from_utf8_lossy(&out.stderr));
        assert!(ok, "saker service list failed: {err}");
        let out = String::from_utf8_lossy(&out.stdout);
        match serde_json::from_str::<Value>(&out) {
            Ok(Value::Array(rows)) => rows,
            _ => panic!("saker service list --json printed no JSON array: {out}"),
        }
    }

    /// The state of instance `id` in `saker service list --json` (empty when unlisted).
    pub fn instance_state(&self, id: &str) -> String {
        self.services()
            .iter()
            .find(|row| row["id"] == id)
            .and_then(|row| row["state"].as_str())
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until instance `id` is in one of `states`; returns the one it is in.
    pub fn wait_instance_state(&self, id: &str, states: &[&str]) -> String {
        eventually(&format!("instance {id} in {states:?}"), || {
            let state = self.instance_state(id);
            if states.contains(&state.as_str()) {
                Ok(state)
            } else {
                Err(format!("it is {state:?}"))
            }
        })
    }

    /// A connection to the test database, for what no command shows.
    pub fn sql(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to the test database")
    }

    /// The `worker_jobs` rows of task run `task_run_id`, oldest first.
    pub fn jobs_of(&self, task_run_id: &str) -> Vec<Job> {
        self.sql()
            .query(
                "SELECT attempt, state, delivery, claimed_by FROM worker_jobs \
                 WHERE task_run_id = $1 ORDER BY seq",
                &[&task_run_id],
            )
            .unwrap()
            .into_iter()
            .map(|row| Job {
                attempt: row.get(0),
                state: row.get(1),
                delivery: row.get(2),
                claimed_by: row.get(3),
            })
            .collect()
    }

    /// Which worker instance holds (or last held) task run `task_run_id`'s latest job.
    pub fn job_holder(&self, task_run_id: &str) -> Option<String> {
        self.jobs_of(task_run_id)
            .pop()
            .and_then(|job| job.claimed_by)
    }

    /// The instances that submitted a result for task run `task_run_id`, oldest first.
    pub fn results_of(&self, task_run_id: &str) -> Vec<String> {
        self.sql()
            .query(
                "SELECT submitted_by FROM worker_results WHERE task_run_id = $1 ORDER BY seq",
                &[&task_run_id],
            )
            .unwrap()
            .into_iter()
            .map(|row| row.get(0))
            .collect()
    }
}

/// One `worker_jobs` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub attempt: i64,
    /// QUEUED, CLAIMED, DONE, ABANDONED or CANCELLED.
    pub state: String,
    /// How many times it was handed out (a requeued job is delivered again).
    pub delivery: i64,
    pub claimed_by: Option<String>,
}

/// A running service process; killed with SIGKILL when dropped.
pub struct Service {
    child: Option<Child>,
    pub role: Role,
    pub name: String,
    pub log: PathBuf,
}

impl Service {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the service was ended").id()
    }

    /// What the process printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics, with its log, when the process has exited; `Result` so that an `eventually`
    /// poll can call it with `?`.
    pub fn check_alive(&mut self) -> Result<(), String> {
        let child = self.child.as_mut().expect("the service was ended");
        match child.try_wait().unwrap() {
            None => Ok(()),
            Some(status) => panic!(
                "{} ({}) exited with {status}:\n{}",
                self.name,
                self.role.command(),
                self.log()
            ),
        }
    }

    /// The id of the service instance it registered: executors, workers and schedulers
    /// print it; for a webserver, the one RUNNING webserver instance of `cluster`.
    pub fn instance_id(&mut self, cluster: &Cluster) -> String {
        let prefix = format!("Saker {} ", self.role.command());
        let role = self.role;
        let name = self.name.clone();
        eventually(&format!("{name}'s service instance"), || {
            self.check_alive()?;
            let printed = self.log().lines().find_map(|line| {
                line.strip_prefix(&prefix)
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_owned)
            });
            if let Some(id) = printed {
                return Ok(id);
            }
            // The webserver prints no id: the one RUNNING instance of its type.
            if role == Role::Webserver {
                let rows = cluster.services();
                let running: Vec<&Value> = rows
                    .iter()
                    .filter(|r| r["type"] == role.service_type() && r["state"] == "RUNNING")
                    .collect();
                if let [one] = running.as_slice() {
                    return Ok(one["id"].as_str().unwrap_or_default().to_owned());
                }
            }
            Err("not registered yet".to_owned())
        })
    }

    /// Waits until the log holds `text`.
    pub fn wait_log(&mut self, text: &str) {
        let name = self.name.clone();
        eventually(&format!("{name} printing {text:?}"), || {
            if self.log().contains(text) {
                return Ok(());
            }
            self.check_alive()?;
            Err(self.log())
        });
    }

    /// `kill -9`, and reaps the process.
    pub fn kill_9(&mut self) {
        let mut child = self.child.take().expect("the service was ended");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Sends SIGTERM without waiting.
    pub fn send_sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits (60 s at most) for the process to exit and returns its status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        let child = self.child.as_mut().expect("the service was ended");
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                self.child = None;
                panic!(
                    "{} did not exit within 60 s:\n{}",
                    self.name,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then waits for the exit status.
    pub fn sigterm(&mut self) -> ExitStatus {
        self.send_sigterm();
        self.wait_exit()
    }

    /// Whether the process has exited (it is reaped if so).
    pub fn has_exited(&mut self) -> bool {
        match self.child.as_mut() {
            None => true,
            Some(child) => child.try_wait().unwrap().is_some(),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The webserver's API, without credentials.
#[derive(Clone, Copy, Debug)]
pub struct Api {
    pub port: u16,
}

impl Api {
    /// Deploys a flow (YAML) and checks it was accepted.
    pub fn deploy(&self, flow: &str) {
        crate::common::deploy(self.port, flow);
    }

    /// Creates an execution of `namespace`/`flow`; returns its id.
    pub fn create_execution(&self, namespace: &str, flow: &str) -> String {
        let (status, execution) = json(
            self.port,
            "POST",
            &format!("/api/v1/main/executions/{namespace}/{flow}"),
            None,
        );
        assert_eq!(status, 200, "{execution}");
        execution["id"].as_str().unwrap().to_owned()
    }

    pub fn execution(&self, id: &str) -> Value {
        let (status, execution) = json(
            self.port,
            "GET",
            &format!("/api/v1/main/executions/{id}"),
            None,
        );
        assert_eq!(status, 200, "{execution}");
        execution
    }

    /// Waits until execution `id` has ended (any terminal state); returns it.
    pub fn wait_ended(&self, id: &str) -> Value {
        self.wait_ended_within(id, Duration::from_secs(60))
    }

    /// [`Api::wait_ended`] with a deadline of its own, for what waits on a grace period.
    pub fn wait_ended_within(&self, id: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let execution = self.execution(id);
            let state = execution["state"]["current"].as_str().unwrap_or_default();
            if is_terminal(state) {
                return execution;
            }
            assert!(
                Instant::now() < deadline,
                "execution {id} did not end within {limit:?}: {execution}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The log lines of execution `id`, as the API answers them (level, message, ...).
    pub fn log_lines(&self, id: &str) -> Vec<Value> {
        let (status, logs) = json(self.port, "GET", &format!("/api/v1/main/logs/{id}"), None);
        assert_eq!(status, 200, "{logs}");
        logs.as_array().cloned().unwrap_or_default()
    }

    /// The log lines of execution `id` (their messages).
    pub fn log_messages(&self, id: &str) -> Vec<String> {
        self.log_lines(id)
            .iter()
            .filter_map(|l| l["message"].as_str().map(str::to_owned))
            .collect()
    }

    /// `GET /api/v1/instance/services`: every service instance row.
    pub fn services(&self) -> Vec<Value> {
        let (status, rows) = json(self.port, "GET", "/api/v1/instance/services", None);
        assert_eq!(status, 200, "{rows}");
        rows.as_array().cloned().unwrap_or_default()
    }
}

/// Whether an execution in `state` has ended.
pub fn is_terminal(state: &str) -> bool {
    matches!(
        state,
        "SUCCESS" | "WARNING" | "FAILED" | "KILLED" | "CANCELLED" | "SKIPPED"
    )
}

/// The task run of `execution` whose task is `task_id` (the first one).
pub fn task_run<'a>(execution: &'a Value, task_id: &str) -> &'a Value {
    execution["taskRunList"]
        .as_array()
        .and_then(|runs| runs.iter().find(|r| r["taskId"] == task_id))
        .unwrap_or_else(|| panic!("no task run of {task_id} in {execution}"))
}

/// The states a task run went through (`state.histories[].state`).
pub fn history(task_run: &Value) -> Vec<String> {
    task_run["state"]["histories"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter_map(|s| s["state"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A path under the cluster's directory, for a test's own files.
pub fn path_in(cluster: &Cluster, name: &str) -> PathBuf {
    cluster.dir.path().join(name)
}

/// For the failure tests (cli_distributed_failures.rs): PostgreSQL restarted or listening
/// on a network namespace's link, and services started from a wrapped command.
impl Cluster {
    /// Restarts PostgreSQL under the running services (`pg_ctl restart -m fast`: every
    /// session is cut) and waits until it takes connections again.
    pub fn restart_postgres(&self) {
        self.pg.restart();
    }

    /// Makes PostgreSQL listen on `address` too and trust `clients` (a CIDR range), e.g. a
    /// network namespace's link; restarts it, so call it before starting services.
    pub fn listen_also(&self, address: &str, clients: &str) {
        self.pg.listen_also(address, clients);
    }

    /// A copy of the configuration whose database URL names `host` instead of 127.0.0.1
    /// (for a process that reaches PostgreSQL at another address of this machine).
    pub fn config_for_host(&self, host: &str) -> PathBuf {
        let body = std::fs::read_to_string(&self.config).unwrap();
        let path = self.dir.path().join(format!("saker-{host}.yml"));
        std::fs::write(&path, body.replace("127.0.0.1:", &format!("{host}:"))).unwrap();
        path
    }

    /// Starts `command` (the saker binary, or it wrapped: e.g. in a
    /// network namespace) with the configuration `config`.
    pub fn spawn_command(
        &self,
        mut command: Command,
        role: Role,
        name: &str,
        args: &[&str],
        config: &std::path::Path,
    ) -> Service {
        let log = self.logs.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = command
            .args(["server", role.command()])
            .args(args)
            .env("SAKER_CONFIG", config)
            .env("SAKER_DATA_DIR", &self.data)
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        Service {
            child: Some(child),
            role,
            name: name.to_owned(),
            log,
        }
    }
}

impl Service {
    /// Sends signal `name` (`STOP` freezes the process, `CONT` thaws it) without waiting.
    pub fn signal(&self, name: &str) {
        let pid = self.pid().to_string();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} {pid} failed");
    }
}
