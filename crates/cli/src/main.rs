//! `saker`: the command-line entry point. It parses arguments, loads the configuration and
//! wires the crates together; the work itself lives in the library crates.

mod app;
mod cmd;
mod config;
mod datasource;
mod engine_secrets;
mod print;
mod prompt;
mod retention;
mod secret_service;
mod services;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Saker: a workflow orchestrator for Kestra-style flows whose first promise is secret
/// management that holds.
#[derive(Debug, Parser)]
#[command(name = "saker", version, about, long_about = None)]
pub struct Cli {
    /// Where Saker keeps its database and keys [default: $XDG_DATA_HOME/saker or
    /// ~/.local/share/saker].
    #[arg(long, global = true, env = "SAKER_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// A YAML configuration file with a `saker:` (or `kestra:`) root.
    #[arg(long, global = true, env = "SAKER_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate and run flows.
    #[command(subcommand)]
    Flow(cmd::flow::FlowCommand),
    /// Inspect and purge executions.
    #[command(subcommand)]
    Execution(cmd::execution::ExecutionCommand),
    /// Run the server.
    #[command(subcommand)]
    Server(cmd::server::ServerCommand),
    /// Work with template expressions.
    #[command(subcommand)]
    Expr(cmd::expr::ExprCommand),
    /// Mask secrets in stdin and write the result to stdout.
    Mask(cmd::mask::MaskArgs),
    /// Manage the users who may call the API.
    #[command(subcommand)]
    User(cmd::user::UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(cmd::user::TokenCommand),
    /// Manage the roles users are bound to.
    #[command(subcommand)]
    Role(cmd::role::RoleCommand),
    /// Measure executions per second and orchestration overhead on the embedded store
    /// (`--soak`: throughput and memory over a long run).
    Bench(cmd::bench::BenchArgs),
    /// Manage secrets: values go in (stdin, prompt, generated) and never come out.
    #[command(subcommand)]
    Secret(cmd::secret::SecretCommand),
    /// Read and write the KV store of a namespace, as flows see it with kv().
    #[command(subcommand)]
    Kv(cmd::kv::KvCommand),
    /// Verify and list the audit trail.
    #[command(subcommand)]
    Audit(cmd::audit::AuditCommand),
    /// See the scheduled triggers and when each next fires.
    #[command(subcommand)]
    Trigger(cmd::trigger::TriggerCommand),
    /// Manage namespaces' files.
    #[command(subcommand)]
    Namespace(cmd::namespace::NamespaceCommand),
    /// List the task and trigger types this build runs.
    #[command(subcommand)]
    Plugins(cmd::plugins::PluginsCommand),
    /// See the service instances sharing the PostgreSQL store (distributed mode).
    #[command(subcommand)]
    Service(cmd::service::ServiceCommand),
}

fn main() -> ExitCode {
    close_inherited_fds_on_exec();
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Server(_)) {
        restore_sigpipe();
    }
    print::init_tracing();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let globals = app::Globals {
        data_dir: cli.data_dir,
        config: cli.config,
    };
    match cli.command {
        Command::Flow(c) => cmd::flow::run(&globals, c),
        Command::Execution(c) => cmd::execution::run(&globals, c),
        Command::Server(c) => cmd::server::run(&globals, c),
        Command::Expr(c) => cmd::expr::run(&globals, c),
        Command::Bench(args) => cmd::bench::run(&globals, args),
        Command::Secret(c) => cmd::secret::run(&globals, c),
        Command::Kv(c) => cmd::kv::run(&globals, c),
        Command::Audit(c) => cmd::audit::run(&globals, c),
        Command::Mask(args) => cmd::mask::run(args),
        Command::User(c) => cmd::user::run_user(&globals, c),
        Command::Token(c) => cmd::user::run_token(&globals, c),
        Command::Role(c) => cmd::role::run(&globals, c),
        Command::Trigger(c) => cmd::trigger::run(&globals, c),
        Command::Namespace(c) => cmd::namespace::run(&globals, c),
        Command::Plugins(c) => cmd::plugins::run(c),
        Command::Service(c) => cmd::service::run(&globals, c),
    }
}

/// Whatever started Saker may have left file descriptors open without close-on-exec (a
/// shell's redirections, a test harness's pipes, a supervisor's sockets). Rust opens its own
/// with close-on-exec, but inherited ones would pass through bubblewrap into every task
/// process. Marking every descriptor above stderr close-on-exec, before anything else runs,
/// keeps them out of tasks while Saker itself may still use them.
fn close_inherited_fds_on_exec() {
    #[cfg(target_os = "linux")]
    // SAFETY: close_range(2) with CLOSE_RANGE_CLOEXEC only sets a flag on descriptors of this
    // process; it closes nothing and touches no memory. On a kernel without it (before 5.11)
    // the call fails with ENOSYS and nothing changes.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
    }
}

/// Rust ignores SIGPIPE, so `saker execution logs ID | head` would end in a "broken pipe"
/// panic. Commands that print restore the default: the process ends quietly when the reader
/// goes away, like other Unix tools. (Not the server, whose sockets must never kill it.)
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default, before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
