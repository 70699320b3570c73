//! What each kind of task gives the tasks after it: Kestra's output names (read as
//! `{{ outputs.<task id>.<name> }}`) and a one-line summary, for `saker plugins list` and
//! docs/tasks.md.
//!
//! The `match` below has no wildcard arm on purpose: a new [`TaskKind`] does not compile until
//! it says what it outputs, so the documentation cannot silently miss a type. Triggers have no
//! kind; their table is keyed by canonical name and a test checks it covers every built-in
//! trigger.

use super::{TaskKind, TriggerType};

/// The one-line summary and output names of a kind of task or trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindDoc {
    /// What the type does, in one line.
    pub summary: &'static str,
    /// Kestra's names of its outputs, in the order Kestra documents them; empty when it
    /// outputs nothing.
    pub outputs: &'static [&'static str],
}

const fn doc(summary: &'static str, outputs: &'static [&'static str]) -> KindDoc {
    KindDoc { summary, outputs }
}

/// Script tasks' outputs (Kestra's `ScriptOutput`): `vars` from the `::{"outputs": ...}::`
/// protocol, the exit code, and the files matched by `outputFiles`.
const SCRIPT_OUTPUTS: &[&str] = &["vars", "exitCode", "outputFiles"];

impl TaskKind {
    /// The summary and output names of this kind.
    pub fn doc(self) -> KindDoc {
        match self {
            Self::Log => doc("Writes a message (or several) to the execution's log.", &[]),
            Self::Return => doc("Renders `format` and outputs it as `value`.", &["value"]),
            Self::OutputValues => doc(
                "Outputs the rendered `values` map for later tasks.",
                &["values"],
            ),
            Self::ShellCommands => {
                doc("Runs shell commands in a confined process.", SCRIPT_OUTPUTS)
            }
            Self::ShellScript => doc(
                "Runs an inline shell script in a confined process.",
                SCRIPT_OUTPUTS,
            ),
            Self::PythonScript => doc(
                "Runs an inline Python script, with `dependencies` installed in a cached environment.",
                SCRIPT_OUTPUTS,
            ),
            Self::PythonCommands => doc(
                "Runs commands in a Python environment (with `dependencies` installed).",
                SCRIPT_OUTPUTS,
            ),
            Self::NodeScript => doc("Runs an inline Node.js script.", SCRIPT_OUTPUTS),
            Self::NodeCommands => doc("Runs commands with Node.js available.", SCRIPT_OUTPUTS),
            Self::Fail => doc(
                "Fails the task (when `condition` renders true) with `errorMessage`.",
                &[],
            ),
            Self::PurgeExecutions => doc(
                "Deletes ended executions, and what belongs to them, between two dates.",
                &[
                    "executionsCount",
                    "logsCount",
                    "storagesCount",
                    "metricsCount",
                ],
            ),
            Self::PurgeLogs => doc("Deletes log lines between two dates.", &["count"]),
            Self::If => doc("Runs `then` when `condition` is true, else `else`.", &[]),
            Self::Switch => doc(
                "Runs the tasks of the case matching `value`, else `defaults`.",
                &["value", "defaults"],
            ),
            Self::Sequential => doc("Runs its tasks one after the other.", &[]),
            Self::Parallel => doc(
                "Runs its tasks at the same time (at most `concurrent`).",
                &[],
            ),
            Self::ForEach => doc(
                "Runs its tasks once per value, `concurrencyLimit` at a time.",
                &[],
            ),
            Self::EachSequential => doc("Runs its tasks once per value, one value at a time.", &[]),
            Self::EachParallel => doc(
                "Runs its tasks once per value, values at the same time.",
                &[],
            ),
            Self::AllowFailure => doc(
                "Runs its tasks; their failure ends it in WARNING instead of failing the execution.",
                &[],
            ),
            Self::Dag => doc(
                "Runs its tasks as soon as the tasks each `dependsOn` have ended.",
                &[],
            ),
            Self::WorkingDirectory => doc("Runs its tasks in one shared working directory.", &[]),
            Self::Pause => doc(
                "Pauses the execution until resumed or `pauseDuration` has passed.",
                &["onResume"],
            ),
            Self::Sleep => doc("Waits for `duration`.", &[]),
            Self::LoopUntil => doc(
                "Runs its tasks again until `condition` is true.",
                &["iterationCount"],
            ),
            Self::Subflow => doc(
                "Starts an execution of another flow (with `wait`, ends with it).",
                &["executionId", "outputs", "state"],
            ),
            Self::ForEachItem => doc(
                "Splits a file into batches and starts a subflow execution per batch.",
                &["numberOfBatches", "iterations"],
            ),
            Self::KvSet => doc("Stores a value in the namespace's KV store.", &[]),
            Self::KvGet => doc("Reads a value from the namespace's KV store.", &["value"]),
            Self::KvDelete => doc("Deletes a key from the namespace's KV store.", &["deleted"]),
            Self::KvGetKeys => doc(
                "Lists the keys of the namespace's KV store (with a `prefix`).",
                &["keys"],
            ),
            Self::Labels => doc("Sets labels on the running execution.", &[]),
            Self::Assert => doc("Fails the task when one of its `conditions` is false.", &[]),
            Self::Exit => doc("Ends the execution in the chosen `state`.", &[]),
            Self::Resume => doc("Resumes a paused execution (this one by default).", &[]),
            Self::LogFetch => doc(
                "Writes the log lines of an execution to a file.",
                &["uri", "size"],
            ),
            Self::Echo => doc(
                "Writes a message to the log (Kestra's deprecated form of Log).",
                &[],
            ),
            Self::LocalFiles => doc(
                "Writes `inputs` as files of the working directory and outputs the files matched by `outputs`.",
                &["uris"],
            ),
            Self::HttpRequest => doc(
                "Calls a URL over HTTP and outputs the response.",
                &["uri", "code", "headers", "body", "formData"],
            ),
            Self::HttpDownload => doc(
                "Downloads a URL to a `kestra://` file.",
                &["uri", "code", "headers", "length"],
            ),
            Self::IncomingWebhook => doc(
                "Posts a JSON payload to a chat service's incoming webhook.",
                &[],
            ),
            Self::MailSend => doc(
                "Sends an e-mail over SMTP, SMTPS or SMTP with STARTTLS, with attachments.",
                &[],
            ),
            Self::SendGridMailSend => doc(
                "Sends an e-mail through SendGrid's v3 mail/send API.",
                &["statusCode", "body", "headers"],
            ),
            Self::ExecutionNotification => doc(
                "Posts a summary of an execution (state, duration, failed task) to a chat webhook.",
                &[],
            ),
            Self::StorageWrite => doc("Writes `content` to a new internal-storage file.", &["uri"]),
            Self::StorageConcat => {
                doc("Concatenates files into one, with a `separator`.", &["uri"])
            }
            Self::StorageSplit => doc(
                "Splits a file by rows, bytes or into a number of partitions.",
                &["uris"],
            ),
            Self::StorageDelete => doc(
                "Deletes one of this execution's files.",
                &["uri", "deleted"],
            ),
            Self::StorageSize => doc("Outputs the size of a file in bytes.", &["size"]),
            Self::StorageReverse => doc("Writes a file's lines in reverse order.", &["uri"]),
            Self::PurgeCurrentExecutionFiles => doc(
                "Deletes every file this execution stored so far.",
                &["uris"],
            ),
            Self::CsvToIon => doc("Converts a CSV file to Kestra's Ion rows.", &["uri"]),
            Self::IonToCsv => doc("Converts an Ion file to CSV.", &["uri"]),
            Self::JsonToIon => doc(
                "Converts a JSON (or JSON-lines) file to Ion rows.",
                &["uri"],
            ),
            Self::IonToJson => doc("Converts an Ion file to JSON (or JSON lines).", &["uri"]),
            Self::GitClone => doc(
                "Clones a Git repository over HTTP(S) into the working directory.",
                &["directory"],
            ),
            Self::PostgresQuery => doc(
                "Runs one SQL statement on PostgreSQL; FETCH, FETCH_ONE or STORE its rows.",
                &["row", "rows", "uri", "size"],
            ),
            Self::PostgresQueries => doc(
                "Runs several SQL statements on PostgreSQL, in one transaction by default.",
                &["outputs"],
            ),
            Self::SqliteQuery => doc(
                "Runs one SQL statement on a SQLite database of the working directory.",
                &["row", "rows", "uri", "size", "databaseUri"],
            ),
            Self::SqliteQueries => doc(
                "Runs several SQL statements on a SQLite database of the working directory.",
                &["outputs", "databaseUri"],
            ),
            Self::DuckdbQuery => doc(
                "Runs SQL on a DuckDB database of the working directory, reading its inputFiles.",
                &["row", "rows", "uri", "size", "outputFiles", "databaseUri"],
            ),
            Self::DuckdbQueries => doc(
                "Runs several SQL statements on DuckDB, in one transaction by default.",
                &["outputs", "outputFiles", "databaseUri"],
            ),
            Self::LanguageScript => doc(
                "Runs an inline script of another language (Ruby, Perl, PHP, R, Go, ...) in a confined process.",
                SCRIPT_OUTPUTS,
            ),
            Self::LanguageCommands => doc(
                "Runs commands with another language's program available, in a confined process.",
                SCRIPT_OUTPUTS,
            ),
            Self::LegacyBash => doc(
                "Kestra's older Bash task: commands run by bash, with its old output names.",
                &[
                    "vars",
                    "exitCode",
                    "outputFiles",
                    "stdOutLineCount",
                    "stdErrLineCount",
                ],
            ),
            Self::CliTool => doc(
                "Runs commands of a command-line tool (dbt, AWS CLI, gcloud, Ansible, Terraform) set up from the task's properties.",
                SCRIPT_OUTPUTS,
            ),
            Self::SshCommand => doc(
                "Runs commands on a remote host over SSH.",
                &["exitCode", "stdOutLineCount", "stdErrLineCount", "vars"],
            ),
        }
    }
}

/// The summary and outputs of the built-in trigger named `canonical`.
pub fn trigger_doc(canonical: &str) -> Option<KindDoc> {
    Some(match canonical {
        "io.kestra.plugin.core.trigger.Schedule" => doc(
            "Starts an execution on a cron schedule.",
            &["date", "next", "previous"],
        ),
        "io.kestra.plugin.core.trigger.Webhook" => doc(
            "Starts an execution when its URL (with the secret `key`) is called.",
            &["body", "headers", "parameters"],
        ),
        "io.kestra.plugin.core.trigger.Flow" => doc(
            "Starts an execution when another flow's execution ends (filtered by `conditions`).",
            &[
                "executionId",
                "namespace",
                "flowId",
                "flowRevision",
                "state",
            ],
        ),
        // The HTTP polling trigger: its outputs are the response, as Request gives them.
        "io.kestra.plugin.core.http.Trigger" => doc(
            "Polls a URL and starts an execution when `responseCondition` is true.",
            &["uri", "code", "headers", "body"],
        ),
        _ => return None,
    })
}

impl TriggerType {
    /// The summary and outputs of this trigger type.
    pub fn doc(&self) -> Option<KindDoc> {
        trigger_doc(self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Catalog;

    #[test]
    fn every_type_has_a_summary() {
        let catalog = Catalog::builtin();
        for task in catalog.tasks() {
            let doc = task.kind.doc();
            assert!(
                doc.summary.ends_with('.') && !doc.summary.contains('\n'),
                "{}",
                task.name
            );
        }
        for trigger in catalog.triggers() {
            assert!(
                trigger.doc().is_some(),
                "trigger {} has no entry in catalog/outputs.rs",
                trigger.name
            );
        }
    }
}
