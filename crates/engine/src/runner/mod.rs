//! Task runners: one per task type, behind the [`TaskRunner`] trait, so that a new task type
//! (HTTP, SQL, flowable If/Parallel/ForEach) is a new module and one line in
//! [`Registry::builtin`], not a rewrite.
//!
//! A runner sees its task only through [`TaskContext`]: properties come out rendered (and
//! taint-tracked), and log lines go out through the execution's masker. A runner never
//! touches the store (except the purge tasks and `log.Fetch`, whose job it is: see `purge`), the secret
//! backends or the raw template engine.

mod assert;
mod dbt;
mod echo;
mod execution_notification;
mod exit;
mod fail;
mod fetch;
mod flowable;
mod for_each_item;
mod git;
mod http;
mod jdbc;
mod kv;
mod labels;
mod local_files;
mod log;
mod mail;
mod mail_files;
mod notifications;
mod output_values;
mod process_setup;
mod protocol;
mod purge;
mod python_env;
mod resume_task;
mod ret;
mod script_context;
mod sendgrid;
mod serdes;
mod shell;
mod ssh;
mod storage_tasks;
mod subflow;
mod task_file_io;
mod tools;
mod working_directory;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

pub use crate::task_context::TaskContext;
pub use execution_notification::{
    DISCORD_EXECUTION, ExecutionNotification, SLACK_EXECUTION, TEAMS_EXECUTION,
};
pub use sendgrid::{API_URL_VARIABLE as SENDGRID_API_URL_VARIABLE, SendGridMailSend};
pub use working_directory::finish_working_directory;

/// What a runner returns when its task did not fail.
#[derive(Debug, Default)]
pub struct TaskOutcome {
    pub outputs: Map<String, Value>,
    /// A task that succeeded with something worth a look (e.g. stderr with
    /// `warningOnStdErr`) ends WARNING instead of SUCCESS.
    pub warning: bool,
    /// A flowable task's decision (see `flowable.rs`); `None` for a runnable task.
    pub resolved: Option<saker_model::Resolved>,
    /// Indexes of `resolved.values` derived from a secret: the worker seals them.
    pub tainted_values: Vec<usize>,
    /// Labels to set on the execution (`io.kestra.plugin.core.execution.Labels`); names
    /// starting with `system.` are ignored.
    pub labels: Map<String, Value>,
    /// End the execution now in this state (`io.kestra.plugin.core.execution.Exit`): nothing
    /// new starts and running tasks are killed.
    pub exit: Option<saker_model::StateType>,
    /// Resume this paused execution (`io.kestra.plugin.core.execution.Resume`).
    pub resume: Option<Box<crate::queue::ResumeRequest>>,
}

impl TaskOutcome {
    /// A successful outcome with these outputs.
    pub fn with_outputs(outputs: Map<String, Value>) -> Self {
        Self {
            outputs,
            ..Self::default()
        }
    }
}

/// Why a task failed. The message is shown to users, so it goes through the masker before it
/// is logged; runners still never put a secret in it knowingly.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// A property failed to render (undefined variable, denied secret, ...).
    #[error("{0}")]
    Render(String),
    /// A property has the wrong shape at run time (a template rendered to a bad value).
    #[error("property '{property}': {message}")]
    Property { property: String, message: String },
    /// The task ran and failed.
    #[error("{0}")]
    Failed(String),
    /// The task was killed (execution killed or timeout).
    #[error("{0}")]
    Killed(String),
    /// A piece of a secret too short to be masked would have been handed to a process,
    /// which could print it where no masker recognises it. Names the secret, never a value.
    #[error(
        "task '{task}': property '{property}' holds a piece of {sources} only {length} character(s) long; \
         pieces shorter than {min} characters cannot be masked in what a process prints, so they are \
         not handed to one: pass the whole value, or at least {min} characters of it"
    )]
    SecretPiece {
        task: String,
        property: String,
        sources: String,
        length: usize,
        min: usize,
    },
}

/// The future a runner returns.
pub type RunFuture<'a> = Pin<Box<dyn Future<Output = Result<TaskOutcome, TaskError>> + Send + 'a>>;

/// Runs tasks of one type.
pub trait TaskRunner: Send + Sync {
    /// Runs one attempt of the task described by `ctx`.
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a>;
}

/// The runners known to this process, by canonical task type.
#[derive(Clone)]
pub struct Registry {
    runners: HashMap<&'static str, Arc<dyn TaskRunner>>,
}

impl Registry {
    /// The task types Saker ships with.
    pub fn builtin() -> Self {
        let mut runners: HashMap<&'static str, Arc<dyn TaskRunner>> = HashMap::new();
        runners.insert("io.kestra.plugin.core.log.Log", Arc::new(log::Log));
        runners.insert("io.kestra.plugin.core.debug.Return", Arc::new(ret::Return));
        runners.insert(
            "io.kestra.plugin.core.output.OutputValues",
            Arc::new(output_values::OutputValues),
        );
        for commands in [
            "io.kestra.plugin.scripts.shell.Commands",
            "io.kestra.plugin.scripts.python.Commands",
            "io.kestra.plugin.scripts.node.Commands",
        ] {
            runners.insert(commands, Arc::new(shell::Commands));
        }
        for (webhook, service) in [
            (
                "io.kestra.plugin.notifications.slack.SlackIncomingWebhook",
                "Slack",
            ),
            (
                "io.kestra.plugin.notifications.discord.DiscordIncomingWebhook",
                "Discord",
            ),
            (
                "io.kestra.plugin.notifications.teams.TeamsIncomingWebhook",
                "Teams",
            ),
            (
                "io.kestra.plugin.notifications.google.GoogleChatIncomingWebhook",
                "Google Chat",
            ),
            (
                "io.kestra.plugin.notifications.mattermost.MattermostIncomingWebhook",
                "Mattermost",
            ),
        ] {
            runners.insert(
                webhook,
                Arc::new(notifications::IncomingWebhook { service }),
            );
        }
        runners.insert(
            "io.kestra.plugin.notifications.mail.MailSend",
            Arc::new(mail::MailSend),
        );
        runners.insert(
            "io.kestra.plugin.notifications.sendgrid.SendGridMailSend",
            Arc::new(sendgrid::SendGridMailSend::from_environment()),
        );
        for (script, language) in [
            (
                "io.kestra.plugin.scripts.shell.Script",
                shell::Language::Shell,
            ),
            (
                "io.kestra.plugin.scripts.python.Script",
                shell::Language::Python,
            ),
            (
                "io.kestra.plugin.scripts.node.Script",
                shell::Language::Node,
            ),
        ] {
            runners.insert(script, Arc::new(shell::Script(language)));
        }
        runners.insert("io.kestra.plugin.core.execution.Fail", Arc::new(fail::Fail));
        runners.extend(tools::runners());
        runners.extend(kv::runners());
        runners.insert("io.kestra.plugin.core.debug.Echo", Arc::new(echo::Echo));
        runners.insert(
            "io.kestra.plugin.core.execution.Labels",
            Arc::new(labels::Labels),
        );
        runners.insert(
            "io.kestra.plugin.core.execution.Assert",
            Arc::new(assert::Assert),
        );
        runners.insert("io.kestra.plugin.core.execution.Exit", Arc::new(exit::Exit));
        runners.insert(
            "io.kestra.plugin.core.execution.Resume",
            Arc::new(resume_task::Resume),
        );
        let fixed: Arc<dyn TaskRunner> = Arc::new(flowable::Fixed);
        for name in [
            "io.kestra.plugin.core.flow.Sequential",
            "io.kestra.plugin.core.flow.Parallel",
            "io.kestra.plugin.core.flow.AllowFailure",
            "io.kestra.plugin.core.flow.Dag",
        ] {
            runners.insert(name, fixed.clone());
        }
        runners.insert(
            "io.kestra.plugin.core.flow.WorkingDirectory",
            // `finish_step` turns true once the executor sends the job that runs
            // `finish_working_directory` after a WorkingDirectory's last child.
            Arc::new(working_directory::WorkingDirectory { finish_step: true }),
        );
        runners.insert(
            "io.kestra.plugin.core.storage.LocalFiles",
            Arc::new(local_files::LocalFiles),
        );
        runners.insert("io.kestra.plugin.core.flow.If", Arc::new(flowable::If));
        runners.insert(
            "io.kestra.plugin.core.flow.Switch",
            Arc::new(flowable::Switch),
        );
        runners.insert(
            "io.kestra.plugin.core.flow.ForEach",
            Arc::new(flowable::Each { property: "values" }),
        );
        for name in [
            "io.kestra.plugin.core.flow.EachSequential",
            "io.kestra.plugin.core.flow.EachParallel",
        ] {
            runners.insert(name, Arc::new(flowable::Each { property: "value" }));
        }
        runners.insert(
            "io.kestra.plugin.core.flow.Pause",
            Arc::new(flowable::Pause),
        );
        runners.insert(
            "io.kestra.plugin.core.flow.Sleep",
            Arc::new(flowable::Sleep),
        );
        runners.insert(
            "io.kestra.plugin.core.flow.LoopUntil",
            Arc::new(flowable::LoopUntil),
        );
        runners.insert(
            "io.kestra.plugin.core.flow.ForEachItem",
            Arc::new(for_each_item::ForEachItem),
        );
        runners.insert(
            "io.kestra.plugin.core.flow.Subflow",
            Arc::new(subflow::Subflow),
        );
        runners.insert(
            "io.kestra.plugin.core.http.Request",
            Arc::new(http::Request),
        );
        runners.insert(
            "io.kestra.plugin.core.http.Download",
            Arc::new(http::Download),
        );
        for (name, conversion) in [
            (
                "io.kestra.plugin.serdes.csv.CsvToIon",
                serdes::Conversion::CsvToIon,
            ),
            (
                "io.kestra.plugin.serdes.csv.IonToCsv",
                serdes::Conversion::IonToCsv,
            ),
            (
                "io.kestra.plugin.serdes.json.JsonToIon",
                serdes::Conversion::JsonToIon,
            ),
            (
                "io.kestra.plugin.serdes.json.IonToJson",
                serdes::Conversion::IonToJson,
            ),
        ] {
            runners.insert(name, Arc::new(serdes::Serdes(conversion)));
        }
        for (name, task) in [
            (
                "io.kestra.plugin.core.storage.Write",
                storage_tasks::StorageTask::Write,
            ),
            (
                "io.kestra.plugin.core.storage.Concat",
                storage_tasks::StorageTask::Concat,
            ),
            (
                "io.kestra.plugin.core.storage.Split",
                storage_tasks::StorageTask::Split,
            ),
            (
                "io.kestra.plugin.core.storage.Delete",
                storage_tasks::StorageTask::Delete,
            ),
            (
                "io.kestra.plugin.core.storage.Size",
                storage_tasks::StorageTask::Size,
            ),
            (
                "io.kestra.plugin.core.storage.Reverse",
                storage_tasks::StorageTask::Reverse,
            ),
            (
                "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
                storage_tasks::StorageTask::PurgeCurrentExecutionFiles,
            ),
        ] {
            runners.insert(name, Arc::new(storage_tasks::Storage(task)));
        }
        runners.insert("io.kestra.plugin.git.Clone", Arc::new(git::Clone));
        runners.insert("io.kestra.plugin.fs.ssh.Command", Arc::new(ssh::Command));
        for (name, runner) in [
            (
                "io.kestra.plugin.jdbc.postgresql.Query",
                Arc::new(jdbc::Postgres(jdbc::Mode::Query)) as Arc<dyn TaskRunner>,
            ),
            (
                "io.kestra.plugin.jdbc.postgresql.Queries",
                Arc::new(jdbc::Postgres(jdbc::Mode::Queries)),
            ),
            (
                "io.kestra.plugin.jdbc.sqlite.Query",
                Arc::new(jdbc::Sqlite(jdbc::Mode::Query)),
            ),
            (
                "io.kestra.plugin.jdbc.sqlite.Queries",
                Arc::new(jdbc::Sqlite(jdbc::Mode::Queries)),
            ),
            (
                "io.kestra.plugin.jdbc.duckdb.Query",
                Arc::new(jdbc::DuckDb(jdbc::Mode::Query)),
            ),
            (
                "io.kestra.plugin.jdbc.duckdb.Queries",
                Arc::new(jdbc::DuckDb(jdbc::Mode::Queries)),
            ),
        ] {
            runners.insert(name, runner);
        }
        Self { runners }
    }

    /// Adds or replaces the runner of a task type.
    pub fn register(&mut self, type_name: &'static str, runner: Arc<dyn TaskRunner>) {
        self.runners.insert(type_name, runner);
    }

    /// The runner of a canonical task type.
    pub fn get(&self, type_name: &str) -> Option<&Arc<dyn TaskRunner>> {
        self.runners.get(type_name)
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.runners.keys().collect();
        names.sort();
        f.debug_struct("Registry").field("types", &names).finish()
    }
}
