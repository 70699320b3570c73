//! A throwaway PostgreSQL cluster for the tests: `initdb` in a temporary directory, a server
//! on 127.0.0.1 and a free port (its unix socket inside the directory too), stopped and
//! removed when the guard drops. Needs PostgreSQL's server binaries (Debian: postgresql-15);
//! as root it runs them as the `postgres` user, since initdb refuses root.
//!
//! [`PgCluster::start_tls`] starts one that takes TCP connections with TLS only.
#![allow(dead_code)] // crates/cli/tests includes this file and uses a subset

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub struct PgCluster {
    bindir: PathBuf,
    /// Removed on drop, after the server stopped.
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
    tls: bool,
}

/// The folder of `initdb` and `pg_ctl`: `pg_config --bindir`, else Debian's layout.
fn bindir() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().expect(
        "the PostgreSQL tests need PostgreSQL's server binaries (initdb, pg_ctl): \
         apt-get install postgresql-15",
    )
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

impl PgCluster {
    pub fn start() -> PgCluster {
        Self::start_with(None)
    }

    /// A cluster with `ssl = on` serving `cert_pem` (the server's certificate, then any
    /// intermediates) and `key_pem`, that refuses TCP connections without TLS (a
    /// `hostnossl ... reject` line in pg_hba.conf). Its Unix socket takes plain connections,
    /// which [`PgCluster::create_database`] uses.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> PgCluster {
        Self::start_with(Some((cert_pem, key_pem)))
    }

    fn start_with(tls: Option<(&str, &str)>) -> PgCluster {
        let bindir = bindir();
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("saker-pg-")
            .tempdir()
            .expect("temporary directory");
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("run chown");
            assert!(status.success(), "chown of the cluster directory failed");
        }
        let cluster = PgCluster {
            bindir,
            dir,
            port: free_port(),
            as_postgres,
            tls: tls.is_some(),
        };
        // An ICU locale where the server has one, so that a query relying on bytewise text
        // order fails here instead of on a user's database; plain C.UTF-8 otherwise.
        let icu = [
            "--locale-provider=icu",
            "--icu-locale=en-US",
            "--locale=C.UTF-8",
        ];
        if !cluster.initdb(&icu) {
            assert!(
                cluster.initdb(&["--locale=C.UTF-8"]),
                "initdb failed: {}",
                cluster.log()
            );
        }
        if let Some((cert_pem, key_pem)) = tls {
            cluster.enable_tls(cert_pem, key_pem);
        }
        let options = format!(
            "-F -h 127.0.0.1 -p {} -k {} -c max_connections=60",
            cluster.port,
            cluster.dir.path().display()
        );
        let ok = cluster
            .run("pg_ctl")
            .arg("-D")
            .arg(cluster.data())
            .arg("-l")
            .arg(cluster.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .status()
            .expect("run pg_ctl start")
            .success();
        assert!(ok, "pg_ctl start failed: {}", cluster.log());
        cluster
    }

    /// Writes the certificate and key (0600, the server's user's, as PostgreSQL demands),
    /// turns TLS on and refuses TCP connections without it.
    fn enable_tls(&self, cert_pem: &str, key_pem: &str) {
        use std::os::unix::fs::PermissionsExt;
        let cert = self.dir.path().join("server.crt");
        let key = self.dir.path().join("server.key");
        for (path, pem) in [(&cert, cert_pem), (&key, key_pem)] {
            std::fs::write(path, pem).expect("write the server's certificate or key");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .expect("restrict the server's certificate or key");
            if self.as_postgres {
                let status = Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(path)
                    .status()
                    .expect("run chown");
                assert!(status.success(), "chown of {} failed", path.display());
            }
        }
        let append = |name: &str, text: &str, first: bool| {
            let path = self.data().join(name);
            let old = std::fs::read_to_string(&path).expect("read a configuration file");
            let new = if first {
                format!("{text}{old}")
            } else {
                format!("{old}\n{text}")
            };
            std::fs::write(&path, new).expect("write a configuration file");
        };
        append(
            "postgresql.conf",
            &format!(
                "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
                cert.display(),
                key.display()
            ),
            false,
        );
        // The first matching line decides: TCP without TLS is refused before `trust` applies.
        append("pg_hba.conf", "hostnossl all all all reject\n", true);
    }

    /// The TCP port, on 127.0.0.1 (and `localhost`).
    pub fn port(&self) -> u16 {
        self.port
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, program: &str) -> Command {
        let path = self.bindir.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        command
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    fn initdb(&self, locale: &[&str]) -> bool {
        let _ = std::fs::remove_dir_all(self.data());
        self.run("initdb")
            .arg("-D")
            .arg(self.data())
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
            .args(locale)
            .stderr(Stdio::from(
                std::fs::File::create(self.dir.path().join("initdb.log")).expect("log file"),
            ))
            .status()
            .expect("run initdb")
            .success()
    }

    /// What initdb and the server said, for a failure message.
    fn log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name));
        format!(
            "{}\n{}",
            read("initdb.log").unwrap_or_default(),
            read("server.log").unwrap_or_default()
        )
    }

    /// A URL for database `name` as the superuser.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates an empty database and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        // A TLS cluster refuses plain TCP; its Unix socket does not.
        let admin_url = if self.tls {
            format!(
                "host={} port={} user=postgres dbname=postgres",
                self.dir.path().display(),
                self.port
            )
        } else {
            self.url("postgres")
        };
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .expect("connect to the test cluster");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        self.url(name)
    }
}

/// Restarts and more listening addresses, for the failure tests of distributed mode.
impl PgCluster {
    /// Restarts the server (`pg_ctl restart -m fast`: sessions are cut, as when PostgreSQL
    /// restarts under a running deployment) with the options it was started with, and waits
    /// until it takes connections again.
    pub fn restart(&self) {
        let ok = self
            .run("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-m", "fast", "-w", "-t", "60", "restart"])
            .status()
            .expect("run pg_ctl restart")
            .success();
        assert!(ok, "pg_ctl restart failed: {}", self.log());
    }

    /// Makes the server listen on `address` too (an address of this machine, e.g. the host
    /// side of a network namespace's link) and trust connections from `clients` (a CIDR
    /// range), restarting it: call it before anything connects.
    pub fn listen_also(&self, address: &str, clients: &str) {
        let hba = self.data().join("pg_hba.conf");
        let old = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        std::fs::write(&hba, format!("{old}\nhost all all {clients} trust\n"))
            .expect("write pg_hba.conf");
        let options = format!(
            "-F -h 127.0.0.1,{address} -p {} -k {} -c max_connections=60",
            self.port,
            self.dir.path().display()
        );
        let ok = self
            .run("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-m", "fast", "-w", "-t", "60", "-o", &options, "restart"])
            .status()
            .expect("run pg_ctl restart")
            .success();
        assert!(
            ok,
            "pg_ctl restart (listening on {address}) failed: {}",
            self.log()
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .run("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .status();
        // The TempDir removes the directory after this.
    }
}

/// A named test case taking `A` (a database URL, a shared environment...).
pub type Case<A> = (&'static str, fn(&A));

/// Runs every named case against one cluster, going on after a failure so that one run
/// reports every broken case; `arg` gives the n-th case its argument (a fresh database, the
/// shared environment...). Fails at the end, naming the cases that failed.
pub fn run_cases<A: ?Sized, O: std::borrow::Borrow<A>>(
    cases: &[Case<A>],
    arg: impl Fn(usize) -> O,
) {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::time::Instant;

    let started = Instant::now();
    let mut failed = Vec::new();
    for (n, (name, case)) in cases.iter().enumerate() {
        let arg = arg(n);
        let begun = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| case(arg.borrow())));
        let verdict = if outcome.is_ok() { "ok" } else { "FAILED" };
        eprintln!("{name} ... {verdict} ({:?})", begun.elapsed());
        if outcome.is_err() {
            failed.push(*name);
        }
    }
    eprintln!("{} cases in {:?}", cases.len(), started.elapsed());
    assert!(failed.is_empty(), "failed cases: {failed:?}");
}
