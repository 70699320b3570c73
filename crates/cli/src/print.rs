//! How the CLI prints log lines, states and outputs, and Saker's own diagnostics.

use saker_model::LogEntry;
use serde_json::Value;

/// `HH:MM:SS LEVEL task_id message` (local time), one line per message line.
pub fn log_line(entry: &LogEntry) -> String {
    let time = entry
        .timestamp
        .with_timezone(&chrono::Local)
        .format("%H:%M:%S");
    let task = entry.task_id.as_deref().unwrap_or("-");
    format!(
        "{time} {:<5} {task} {}",
        entry.level.as_str(),
        entry.message
    )
}

/// Prints the log lines of an execution stored after `cursor`, and moves the cursor.
pub fn logs_after(
    store: &dyn saker_store::Store,
    execution_id: &str,
    cursor: &mut Option<i64>,
) -> anyhow::Result<()> {
    let mut query = saker_store::LogQuery::new(execution_id);
    query.after_seq = *cursor;
    for log in store.list_logs(&query)? {
        println!("{}", log_line(&log.entry));
        *cursor = Some(log.seq);
    }
    Ok(())
}

/// Pretty JSON of outputs (already masked for display).
pub fn outputs(outputs: &serde_json::Map<String, Value>) -> String {
    serde_json::to_string_pretty(&Value::Object(outputs.clone())).unwrap_or_default()
}

/// Saker's own log goes to stderr, filtered by `SAKER_LOG` (default `warn`), and masked with
/// every secret value this process has seen.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SAKER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| MaskingStderr)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}

/// stderr through the process-wide mask set. The formatter writes each event with one
/// `write_all`, so an event is masked as a whole.
struct MaskingStderr;

impl std::io::Write for MaskingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let set = saker_engine::process_masks().snapshot();
        std::io::stderr().lock().write_all(&set.mask_bytes(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().lock().flush()
    }
}
