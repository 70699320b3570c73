//! The task and trigger types Saker knows: canonical name, aliases and property schema.
//!
//! Adding a task type is adding one [`TaskType`] to [`BUILTIN_TASKS`] (and its [`TaskKind`]
//! variant, which the engine matches on). Validation, "did you mean" suggestions and plugin
//! defaults all read this table. A flowable task (If, Parallel, ...) declares its child task
//! lists with [`Shape::Tasks`]; validation then checks the children as tasks and hands them to
//! the engine in [`crate::TaskDef::subtasks`].

use std::sync::OnceLock;

use serde::Serialize;

use crate::shape::Shape;

mod core_tasks;
mod duckdb;
mod files;
mod flowable;
mod git;
mod jdbc;
mod missing;
mod notifications;
mod outputs;
mod scripts;
mod ssh;
mod tools;

pub use core_tasks::CORE_TASKS;
pub use duckdb::DUCKDB_TASKS;
pub use files::FILE_TASKS;
pub use flowable::FLOWABLE_TASKS;
pub use git::GIT_TASKS;
pub use jdbc::JDBC_TASKS;
pub use missing::missing_type_reason;
pub use notifications::NOTIFICATION_TASKS;
pub use outputs::{KindDoc, trigger_doc};
pub use scripts::SCRIPT_TASKS;
pub use ssh::SSH_TASKS;
pub use tools::tool_tasks;

/// The task types the engine knows how to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum TaskKind {
    Log,
    Return,
    OutputValues,
    ShellCommands,
    // Script tasks (`catalog/scripts.rs`).
    ShellScript,
    PythonScript,
    PythonCommands,
    NodeScript,
    NodeCommands,
    Fail,
    PurgeExecutions,
    PurgeLogs,
    // Flowable tasks (`catalog/flowable.rs`): they run the tasks they hold.
    If,
    Switch,
    Sequential,
    Parallel,
    ForEach,
    EachSequential,
    EachParallel,
    AllowFailure,
    Dag,
    WorkingDirectory,
    Pause,
    Sleep,
    /// Kestra's LoopUntil, also named WaitFor.
    LoopUntil,
    // Other core tasks (`catalog/core_tasks.rs`).
    /// Starts an execution of another flow (and, with `wait`, ends with it).
    Subflow,
    /// Splits a file into batches and starts a subflow execution per batch.
    ForEachItem,
    KvSet,
    KvGet,
    KvDelete,
    KvGetKeys,
    /// Sets labels on the running execution.
    Labels,
    Assert,
    /// Ends the execution in a chosen state.
    Exit,
    /// Resumes a paused execution (this one by default).
    Resume,
    /// io.kestra.plugin.core.log.Fetch.
    LogFetch,
    Echo,
    LocalFiles,
    /// io.kestra.plugin.core.http.Request.
    HttpRequest,
    /// io.kestra.plugin.core.http.Download.
    HttpDownload,
    /// A JSON payload POSTed to a chat service's incoming webhook (`catalog/notifications.rs`).
    IncomingWebhook,
    /// An e-mail sent over SMTP (`catalog/notifications.rs`).
    MailSend,
    /// An e-mail sent through SendGrid's v3 API (`catalog/notifications.rs`).
    SendGridMailSend,
    /// A summary of an execution posted to a chat service's incoming webhook
    /// (`catalog/notifications.rs`).
    ExecutionNotification,
    // File tasks (`catalog/files.rs`).
    StorageWrite,
    StorageConcat,
    StorageSplit,
    StorageDelete,
    StorageSize,
    StorageReverse,
    PurgeCurrentExecutionFiles,
    CsvToIon,
    IonToCsv,
    JsonToIon,
    IonToJson,
    /// io.kestra.plugin.git.Clone, with the git CLI (`catalog/git.rs`).
    GitClone,
    /// io.kestra.plugin.fs.ssh.Command, with the OpenSSH client (`catalog/ssh.rs`).
    SshCommand,
    // JDBC tasks (`catalog/jdbc.rs`).
    PostgresQuery,
    PostgresQueries,
    SqliteQuery,
    SqliteQueries,
    /// io.kestra.plugin.jdbc.duckdb.{Query, Queries}, through DuckDB's Python package
    /// (`catalog/duckdb.rs`).
    DuckdbQuery,
    DuckdbQueries,
    // Tool tasks (`catalog/tools.rs`): other languages' scripts and command-line tools.
    LanguageScript,
    LanguageCommands,
    /// Kestra's `io.kestra.core.tasks.scripts.Bash`.
    LegacyBash,
    /// A plugin wrapping a command-line tool (dbt, AWS CLI, gcloud, Ansible, Terraform).
    CliTool,
}

impl TaskKind {
    /// Kestra's WaitFor, the same kind as [`TaskKind::LoopUntil`] (Kestra renamed the task and
    /// kept WaitFor as its alias); matches and compares as LoopUntil.
    #[allow(non_upper_case_globals)]
    pub const WaitFor: TaskKind = TaskKind::LoopUntil;

    /// True for the tasks that run other tasks (Kestra's `FlowableTask`). Sleep is not one: it
    /// holds no children and runs on the worker like any runnable task; Pause is, as in Kestra.
    pub fn is_flowable(self) -> bool {
        matches!(
            self,
            Self::If
                | Self::Switch
                | Self::Sequential
                | Self::Parallel
                | Self::ForEach
                | Self::EachSequential
                | Self::EachParallel
                | Self::AllowFailure
                | Self::Dag
                | Self::WorkingDirectory
                | Self::Pause
                | Self::LoopUntil
                | Self::ForEachItem
        )
    }

    /// True for the tasks that start executions of other flows (Kestra's `ExecutableTask`).
    pub fn starts_subflows(self) -> bool {
        matches!(self, Self::Subflow | Self::ForEachItem)
    }
}

/// One property of a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PropSpec {
    pub name: &'static str,
    pub shape: Shape,
    pub required: bool,
}

pub(crate) const fn prop(name: &'static str, shape: Shape) -> PropSpec {
    PropSpec {
        name,
        shape,
        required: false,
    }
}

pub(crate) const fn required(name: &'static str, shape: Shape) -> PropSpec {
    PropSpec {
        name,
        shape,
        required: true,
    }
}

/// A task type: its canonical name, the other names it answers to, and its own properties
/// (the properties every task has are in [`COMMON_TASK_PROPS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TaskType {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: TaskKind,
    pub props: &'static [PropSpec],
}

impl TaskType {
    /// The property named `name`, if this type has it.
    pub fn prop(&self, name: &str) -> Option<&'static PropSpec> {
        self.props.iter().find(|p| p.name == name)
    }

    /// True if `name` is the canonical name or an alias.
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }
}

/// Properties every task has (Kestra's `Task` class). They are typed fields of
/// [`crate::TaskDef`], not entries of its `properties`.
pub const COMMON_TASK_PROPS: &[&str] = &[
    "id",
    "type",
    "description",
    "disabled",
    "runIf",
    "retry",
    "allowFailure",
    "allowWarning",
    "logLevel",
    "logToFile",
    "timeout",
    "workerGroup",
    "version",
    "pluginDefaultsRef",
    "taskCache",
    "assets",
];

const LOG_PROPS: &[PropSpec] = &[
    required("message", Shape::StringOrList),
    prop("level", Shape::Level),
];

const RETURN_PROPS: &[PropSpec] = &[prop("format", Shape::String)];

const OUTPUT_VALUES_PROPS: &[PropSpec] = &[prop("values", Shape::Map)];

const FAIL_PROPS: &[PropSpec] = &[
    prop("condition", Shape::String),
    prop("errorMessage", Shape::String),
];

/// Kestra's PurgeExecutions: ended executions between two dates, and what of them to remove.
/// `purgeStorage` and `purgeMetric` are accepted; Saker stores neither files nor metrics per
/// execution, so they remove nothing. `batchSize` is accepted; the store works in batches of
/// its own.
const PURGE_EXECUTIONS_PROPS: &[PropSpec] = &[
    prop("namespace", Shape::String),
    prop("flowId", Shape::String),
    prop("startDate", Shape::String),
    required("endDate", Shape::String),
    prop("states", Shape::StringList),
    prop("purgeExecution", Shape::Bool),
    prop("purgeLog", Shape::Bool),
    prop("purgeMetric", Shape::Bool),
    prop("purgeStorage", Shape::Bool),
    prop("batchSize", Shape::Int),
];

/// Kestra's PurgeLogs: log lines between two dates. Every Saker log line belongs to an
/// execution, so `purgeNonExecutionLogs` has nothing to remove.
const PURGE_LOGS_PROPS: &[PropSpec] = &[
    prop("namespace", Shape::String),
    prop("flowId", Shape::String),
    prop("executionId", Shape::String),
    prop("logLevels", Shape::StringList),
    prop("startDate", Shape::String),
    required("endDate", Shape::String),
    prop("purgeExecutionLogs", Shape::Bool),
    prop("purgeNonExecutionLogs", Shape::Bool),
    prop("batchSize", Shape::Int),
];

/// The first task types of this build; the flowable ones are [`FLOWABLE_TASKS`], subflows, KV
/// and the other core ones [`CORE_TASKS`], and the built-in catalog holds all three. Legacy
/// names are the `aliases` Kestra itself declares on these classes (from before 0.17 moved core tasks to `io.kestra.plugin.core`). Kestra's old
/// `io.kestra.core.tasks.scripts.Bash` is a different task with other properties, so it is not
/// an alias of shell Commands; `io.kestra.core.tasks.outputs.OutputValues` is left out because
/// the current Kestra class does not declare it.
pub const BUILTIN_TASKS: &[TaskType] = &[
    TaskType {
        name: "io.kestra.plugin.core.log.Log",
        aliases: &["io.kestra.core.tasks.log.Log", "Log"],
        kind: TaskKind::Log,
        props: LOG_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.debug.Return",
        aliases: &["io.kestra.core.tasks.debugs.Return", "Return"],
        kind: TaskKind::Return,
        props: RETURN_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.output.OutputValues",
        aliases: &["OutputValues"],
        kind: TaskKind::OutputValues,
        props: OUTPUT_VALUES_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.execution.Fail",
        aliases: &["io.kestra.core.tasks.executions.Fail", "Fail"],
        kind: TaskKind::Fail,
        props: FAIL_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.execution.PurgeExecutions",
        aliases: &[
            "io.kestra.core.tasks.storages.Purge",
            "io.kestra.plugin.core.storage.Purge",
            "PurgeExecutions",
        ],
        kind: TaskKind::PurgeExecutions,
        props: PURGE_EXECUTIONS_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.log.PurgeLogs",
        aliases: &["PurgeLogs"],
        kind: TaskKind::PurgeLogs,
        props: PURGE_LOGS_PROPS,
    },
];

/// A trigger type. Only its required properties are checked here; other properties are kept as
/// written. The Schedule trigger's are also checked, and typed, by [`crate::schedule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TriggerType {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub required: &'static [&'static str],
}

impl TriggerType {
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }
}

/// Trigger types; the legacy names are the aliases Kestra declares since 0.17.
pub const BUILTIN_TRIGGERS: &[TriggerType] = &[
    TriggerType {
        name: "io.kestra.plugin.core.trigger.Schedule",
        aliases: &["io.kestra.core.models.triggers.types.Schedule", "Schedule"],
        required: &["cron"],
    },
    TriggerType {
        name: "io.kestra.plugin.core.trigger.Webhook",
        aliases: &["io.kestra.core.models.triggers.types.Webhook", "Webhook"],
        required: &["key"],
    },
    TriggerType {
        name: "io.kestra.plugin.core.trigger.Flow",
        aliases: &["io.kestra.core.models.triggers.types.Flow"],
        required: &[],
    },
    // Polled by the engine's `http_trigger`.
    TriggerType {
        name: "io.kestra.plugin.core.http.Trigger",
        aliases: &["io.kestra.plugin.fs.http.Trigger"],
        required: &["uri"],
    },
];

/// A set of task and trigger types that validation accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    tasks: Vec<TaskType>,
    triggers: Vec<TriggerType>,
}

impl Catalog {
    /// The types built into this version of Saker.
    pub fn builtin() -> &'static Catalog {
        static BUILTIN: OnceLock<Catalog> = OnceLock::new();
        BUILTIN.get_or_init(|| Catalog {
            tasks: BUILTIN_TASKS
                .iter()
                .chain(FLOWABLE_TASKS)
                .chain(CORE_TASKS)
                .chain(SCRIPT_TASKS)
                .chain(NOTIFICATION_TASKS)
                .chain(FILE_TASKS)
                .chain(GIT_TASKS)
                .chain(SSH_TASKS)
                .chain(JDBC_TASKS)
                .chain(DUCKDB_TASKS)
                .chain(tool_tasks())
                .copied()
                .collect(),
            triggers: BUILTIN_TRIGGERS.to_vec(),
        })
    }

    /// A catalog holding exactly these types.
    pub fn new(tasks: Vec<TaskType>, triggers: Vec<TriggerType>) -> Self {
        Self { tasks, triggers }
    }

    /// This catalog plus one more task type.
    pub fn with_task(mut self, task: TaskType) -> Self {
        self.tasks.push(task);
        self
    }

    pub fn tasks(&self) -> &[TaskType] {
        &self.tasks
    }

    pub fn triggers(&self) -> &[TriggerType] {
        &self.triggers
    }

    /// The task type named `name` (canonical name or alias, exactly as written).
    pub fn task(&self, name: &str) -> Option<&TaskType> {
        self.tasks.iter().find(|t| t.answers_to(name))
    }

    /// The trigger type named `name` (canonical name or alias).
    pub fn trigger(&self, name: &str) -> Option<&TriggerType> {
        self.triggers.iter().find(|t| t.answers_to(name))
    }

    /// Known task names (canonical and aliases) closest to a misspelt one.
    pub fn suggest_task(&self, name: &str) -> Vec<&'static str> {
        let names = self
            .tasks
            .iter()
            .flat_map(|t| std::iter::once(t.name).chain(t.aliases.iter().copied()));
        crate::suggest::closest_type(name, names)
    }

    /// Known trigger names closest to a misspelt one.
    pub fn suggest_trigger(&self, name: &str) -> Vec<&'static str> {
        let names = self
            .triggers
            .iter()
            .flat_map(|t| std::iter::once(t.name).chain(t.aliases.iter().copied()));
        crate::suggest::closest_type(name, names)
    }
}

/// The built-in task type named `name` (canonical name or alias).
pub fn task_type(name: &str) -> Option<&'static TaskType> {
    Catalog::builtin().task(name)
}

/// The built-in trigger type named `name` (canonical name or alias).
pub fn trigger_type(name: &str) -> Option<&'static TriggerType> {
    Catalog::builtin().trigger(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_and_alias_names_resolve() {
        for (name, canonical) in [
            (
                "io.kestra.plugin.core.log.Log",
                "io.kestra.plugin.core.log.Log",
            ),
            (
                "io.kestra.core.tasks.log.Log",
                "io.kestra.plugin.core.log.Log",
            ),
            ("Log", "io.kestra.plugin.core.log.Log"),
            (
                "io.kestra.core.tasks.debugs.Return",
                "io.kestra.plugin.core.debug.Return",
            ),
            ("Return", "io.kestra.plugin.core.debug.Return"),
            ("OutputValues", "io.kestra.plugin.core.output.OutputValues"),
            ("shell.Commands", "io.kestra.plugin.scripts.shell.Commands"),
            ("Commands", "io.kestra.plugin.scripts.shell.Commands"),
            (
                "io.kestra.core.tasks.executions.Fail",
                "io.kestra.plugin.core.execution.Fail",
            ),
            ("Fail", "io.kestra.plugin.core.execution.Fail"),
            (
                "io.kestra.core.tasks.storages.Purge",
                "io.kestra.plugin.core.execution.PurgeExecutions",
            ),
            (
                "io.kestra.plugin.core.storage.Purge",
                "io.kestra.plugin.core.execution.PurgeExecutions",
            ),
            ("PurgeLogs", "io.kestra.plugin.core.log.PurgeLogs"),
        ] {
            assert_eq!(task_type(name).map(|t| t.name), Some(canonical), "{name}");
        }
        assert!(task_type("log").is_none());
    }

    #[test]
    fn names_are_unique_across_types() {
        let mut all: Vec<&str> = BUILTIN_TASKS
            .iter()
            .flat_map(|t| std::iter::once(t.name).chain(t.aliases.iter().copied()))
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        for t in BUILTIN_TASKS {
            for p in t.props {
                assert!(
                    !COMMON_TASK_PROPS.contains(&p.name),
                    "{} shadows a common property",
                    p.name
                );
            }
        }
    }

    #[test]
    fn triggers_resolve() {
        assert_eq!(
            trigger_type("io.kestra.core.models.triggers.types.Schedule").map(|t| t.name),
            Some("io.kestra.plugin.core.trigger.Schedule")
        );
        assert!(trigger_type("io.kestra.plugin.core.trigger.Flow").is_some());
        assert!(trigger_type("Cron").is_none());
    }

    #[test]
    fn suggestions_cover_canonical_names_and_aliases() {
        let c = Catalog::builtin();
        assert_eq!(
            c.suggest_task("io.kestra.plugin.core.log.Logg"),
            vec!["io.kestra.plugin.core.log.Log"]
        );
        assert_eq!(c.suggest_task("Lgo"), vec!["Log"]);
        assert_eq!(
            c.suggest_trigger("io.kestra.plugin.core.trigger.Schedul"),
            vec!["io.kestra.plugin.core.trigger.Schedule"]
        );
        assert!(c.suggest_task("something.else.Entirely").is_empty());
    }
}
