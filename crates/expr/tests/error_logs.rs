//! `errorLogs()`: the execution's ERROR lines from the caller's reader, as maps with Kestra's
//! `LogEntry` field names; their text is plain and never rendered again; without a reader, or
//! when the reader fails, a clear error.

use chrono::{DateTime, Utc};
use saker_expr::{Context, ErrorLogLine, ErrorLogLookupError, ErrorLogReader, RenderEnv, Template};

struct Log(Result<Vec<ErrorLogLine>, ErrorLogLookupError>);

impl ErrorLogReader for Log {
    fn error_logs(&self) -> Result<Vec<ErrorLogLine>, ErrorLogLookupError> {
        self.0.clone()
    }
}

fn line(task: Option<&str>, message: &str) -> ErrorLogLine {
    ErrorLogLine {
        tenant_id: "main".into(),
        namespace: "company.team".into(),
        flow_id: "errors".into(),
        execution_id: "exec1".into(),
        task_id: task.map(str::to_owned),
        task_run_id: task.map(|t| format!("{t}-run")),
        attempt_number: task.map(|_| 1),
        timestamp: DateTime::parse_from_rfc3339("2026-12-06T08:00:00.250Z")
            .unwrap()
            .with_timezone(&Utc),
        level: "ERROR".into(),
        message: message.into(),
    }
}

fn render_with(log: Option<&Log>, source: &str) -> Result<saker_expr::Rendered, String> {
    let env = RenderEnv {
        error_logs: log.map(|l| l as &dyn ErrorLogReader),
        ..RenderEnv::default()
    };
    Template::compile(source)
        .unwrap()
        .render(&Context::new(), &env)
        .map_err(|e| e.to_string())
}

fn render(source: &str) -> Result<saker_expr::Rendered, String> {
    let log = Log(Ok(vec![
        line(Some("failed"), "Task failure"),
        line(None, "the execution ended: {{ secret('NOT_RENDERED') }}"),
    ]));
    render_with(Some(&log), source)
}

#[test]
fn each_error_line_is_a_map_with_kestra_field_names() {
    let r = render(
        "{%- for log in errorLogs() -%}\n- task: {{ log.taskId }}, message: {{ log.message }}\n\
         {%- endfor -%}",
    )
    .unwrap();
    assert_eq!(
        r.text,
        "- task: failed, message: Task failure- task: , message: the execution ended: \
         {{ secret('NOT_RENDERED') }}"
    );
    assert!(!r.is_tainted());
    let r = render(
        "{% set l = errorLogs() | first %}{{ l.level }} {{ l.flowId }} {{ l.namespace }} \
         {{ l.executionId }} {{ l.taskRunId }} {{ l.attemptNumber }} {{ l.tenantId }} \
         {{ l.timestamp }} {{ l.timestamp | date('yyyy-MM-dd') }} {{ l.triggerId is null }}",
    )
    .unwrap();
    assert_eq!(
        r.text,
        "ERROR errors company.team exec1 failed-run 1 main 2026-12-06T08:00:00.250Z 2026-12-06 true"
    );
    assert_eq!(render("{{ errorLogs() | length }}").unwrap().text, "2");
    assert_eq!(
        render("{{ (errorLogs() | last).taskId is null }}")
            .unwrap()
            .text,
        "true"
    );
}

#[test]
fn an_execution_without_error_lines_gives_an_empty_list() {
    let empty = Log(Ok(Vec::new()));
    let r = render_with(
        Some(&empty),
        "[{{ errorLogs() | length }}]{% for l in errorLogs() %}x{% else %}none{% endfor %}",
    )
    .unwrap();
    assert_eq!(r.text, "[0]none");
}

#[test]
fn without_a_reader_or_when_it_fails_the_error_says_why() {
    let e = render_with(None, "{{ errorLogs() }}").unwrap_err();
    assert!(
        e.contains("function 'errorLogs' can only be used in a task"),
        "{e}"
    );
    let broken = Log(Err(ErrorLogLookupError::new("the database is busy")));
    let e = render_with(Some(&broken), "{{ errorLogs() }}").unwrap_err();
    assert!(
        e.contains("function 'errorLogs' cannot read the execution's log: the database is busy"),
        "{e}"
    );
}

#[test]
fn error_logs_takes_no_argument() {
    let e = Template::compile("{{ errorLogs('x') }}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("function 'errorLogs' takes no arguments"), "{e}");
}
