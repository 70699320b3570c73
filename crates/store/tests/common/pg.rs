//! A throwaway PostgreSQL cluster for the tests: `initdb` in a temporary directory, a server
//! on 127.0.0.1 and a free port (its unix socket inside the directory too), stopped and
//! removed when the guard drops. Needs PostgreSQL's server binaries (Debian: postgresql-15);
//! as root it runs them as the `postgres` user, since initdb refuses root.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub struct PgCluster {
    bindir: PathBuf,
    /// Removed on drop, after the server stopped.
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
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
        let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .expect("connect to the test cluster");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        self.url(name)
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
