//! A throwaway PostgreSQL cluster for the jdbc.postgresql tests: the store's
//! (`crates/store/tests/common/pg.rs`, shared the way the CLI's tests share it), plus a role
//! that must log in with its password over TCP (the cluster trusts every other login).
#![allow(dead_code)]

#[path = "../../../store/tests/common/pg.rs"]
mod cluster;

pub use cluster::PgCluster;

/// Creates `role` with `password` and makes TCP logins of that role check it
/// (scram-sha-256), then waits until the server has read the new rules. Blocking: call it
/// outside an async runtime.
pub fn password_role(pg: &PgCluster, database: &str, role: &str, password: &str) {
    let mut admin = postgres::Client::connect(&pg.url("postgres"), postgres::NoTls)
        .expect("connect to the test cluster");
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{password}';
             GRANT ALL ON DATABASE {database} TO {role};"
        ))
        .expect("create the role");
    let mut owner = postgres::Client::connect(&pg.url(database), postgres::NoTls)
        .expect("connect to the test database");
    owner
        .batch_execute(&format!("GRANT ALL ON SCHEMA public TO {role}"))
        .expect("grant the schema");
    let hba: String = admin
        .query_one("SHOW hba_file", &[])
        .expect("read the hba file's path")
        .get(0);
    let old = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
    // The first matching line decides: this role's TCP logins check the password.
    std::fs::write(
        &hba,
        format!(
            "host all {role} 127.0.0.1/32 scram-sha-256\nhost all {role} ::1/128 scram-sha-256\n{old}"
        ),
    )
    .expect("write pg_hba.conf");
    admin
        .batch_execute("SELECT pg_reload_conf()")
        .expect("reload the configuration");
    // The reload is asynchronous: wait until a wrong password is refused.
    let wrong = format!(
        "postgres://{role}:not-the-password@127.0.0.1:{}/{database}",
        pg.port()
    );
    for _ in 0..200 {
        if postgres::Client::connect(&wrong, postgres::NoTls).is_err() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the server never started checking the password of {role}");
}
