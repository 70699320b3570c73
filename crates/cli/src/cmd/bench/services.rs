//! The services the distributed bench drives: this binary started again as `saker server
//! executor` and `saker server worker` processes, each logging to a file of its own (named
//! in every error, so that a service that failed can be read about), stopped with SIGTERM
//! as an operator would, and killed if the bench itself fails on the way.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// How long a service may take to start (the executor: to become the active one).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a service may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// One running service process.
struct Service {
    name: String,
    child: Child,
    log: PathBuf,
}

/// The bench's services, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Services {
    running: Vec<Service>,
}

/// Where the services read their configuration and share their data directory.
pub struct Setup<'a> {
    pub config: &'a Path,
    pub data_dir: &'a Path,
    pub logs: &'a Path,
}

impl Services {
    /// Starts one executor and waits until it is the active one, then `workers` workers and
    /// waits until each has registered.
    pub fn start(setup: &Setup<'_>, workers: usize) -> anyhow::Result<Services> {
        let mut services = Services {
            running: Vec::new(),
        };
        services.spawn(
            setup,
            "executor",
            &["server", "executor"],
            "is the active executor",
        )?;
        for n in 1..=workers {
            services.spawn(
                setup,
                &format!("worker-{n}"),
                &["server", "worker"],
                "started (",
            )?;
        }
        Ok(services)
    }

    fn spawn(
        &mut self,
        setup: &Setup<'_>,
        name: &str,
        args: &[&str],
        ready: &str,
    ) -> anyhow::Result<()> {
        let log = setup.logs.join(format!("{name}.log"));
        let out = File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let binary = std::env::current_exe().context("cannot find this program's binary")?;
        let child = Command::new(binary)
            .args(args)
            .env("SAKER_CONFIG", setup.config)
            .env("SAKER_DATA_DIR", setup.data_dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start the {name}"))?;
        self.running.push(Service {
            name: name.to_owned(),
            child,
            log,
        });
        let service = self.running.last_mut().expect("just pushed");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = std::fs::read_to_string(&service.log).unwrap_or_default();
            if text.contains(ready) {
                return Ok(());
            }
            if let Some(status) = service.child.try_wait()? {
                bail!(
                    "the {name} ended ({status}) before it was ready; its log:\n{}",
                    tail(&text)
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "the {name} was not ready within {}s (another executor already active on \
                     this database keeps a new one standing by); its log:\n{}",
                    START_TIMEOUT.as_secs(),
                    tail(&text)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The names and log files of the running services, for an error message.
    pub fn logs(&self) -> String {
        self.running
            .iter()
            .map(|s| format!("{}: {}", s.name, s.log.display()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A service that ended on its own, if any (its name and log tail).
    pub fn any_dead(&mut self) -> Option<String> {
        self.running.iter_mut().find_map(|s| {
            let status = s.child.try_wait().ok().flatten()?;
            let text = std::fs::read_to_string(&s.log).unwrap_or_default();
            Some(format!(
                "the {} ended ({status}); its log:\n{}",
                s.name,
                tail(&text)
            ))
        })
    }

    /// Stops the most recently started service (SIGTERM, as an operator would), waiting
    /// for it to end; `false` when none is left.
    pub fn stop_last(&mut self) -> bool {
        match self.running.pop() {
            Some(service) => {
                stop(service);
                true
            }
            None => false,
        }
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        while self.stop_last() {}
    }
}

fn stop(mut service: Service) {
    let Ok(pid) = libc::pid_t::try_from(service.child.id()) else {
        let _ = service.child.kill();
        let _ = service.child.wait();
        return;
    };
    // SAFETY: kill(2) on the id of a child this process started and has not reaped yet.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = service.child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "the {} did not stop within {}s of SIGTERM; killed",
        service.name,
        STOP_TIMEOUT.as_secs()
    );
    let _ = service.child.kill();
    let _ = service.child.wait();
}

/// The last lines of a log, enough to see why a service failed.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
