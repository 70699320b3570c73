//! The retention contract ([`Store::purge_executions`], [`Store::purge_logs`]), for every
//! backend: what is removed, what never is (executions that have not ended, the execution
//! that runs the purge, other tenants, the audit trail), and that batches add up.

use saker_model::execution::{Execution, Level, LogEntry, State, StateType};
use saker_store::{
    AuditEvent, AuditLog, ExecutionPurge, LogPurge, LogQuery, PURGE_BATCH, PurgeScope,
    PurgedExecutions, Store, Write, verify_audit,
};

use crate::common::{at, execution, log, task_run};

/// An execution of `namespace`/`flow` started at `at(start)` and, when `end` is given, ended
/// in `state` at `at(end)`, stored with one task run and two log lines timestamped at its
/// start and its end (or start + 1 s).
fn stored(
    s: &dyn Store,
    namespace: &str,
    flow: &str,
    start: i64,
    end: Option<(StateType, i64)>,
) -> Execution {
    let mut e = execution(namespace, flow);
    e.state = State::starting_at(StateType::Created, at(start));
    if let Some((state, end)) = end {
        e.state.transition_at(state, at(end));
    }
    e.task_run_list.push(task_run(&e, "t"));
    let last = end.map_or(start + 1_000, |(_, end)| end);
    let lines = [line(&e, start, Level::Debug), line(&e, last, Level::Error)];
    s.write(&[Write::CreateExecution(&e), Write::AppendLogs(&lines)])
        .unwrap();
    e
}

fn line(e: &Execution, offset_ms: i64, level: Level) -> LogEntry {
    LogEntry {
        timestamp: at(offset_ms),
        ..log(e, None, level, "line")
    }
}

fn exists(s: &dyn Store, e: &Execution) -> bool {
    s.get_execution(&e.id).unwrap().is_some()
}

fn lines(s: &dyn Store, e: &Execution) -> usize {
    s.list_logs(&LogQuery::new(&e.id)).unwrap().len()
}

fn scope() -> PurgeScope {
    PurgeScope::new("main")
}

pub fn ended_executions_before_the_date_go_with_their_task_runs_and_logs(s: &dyn Store) {
    let old = stored(s, "ns", "f", 0, Some((StateType::Success, 1_000)));
    let old_failed = stored(s, "ns", "f", 0, Some((StateType::Failed, 2_000)));
    let recent = stored(s, "ns", "f", 0, Some((StateType::Success, 60_000)));
    let running = stored(s, "ns", "f", 0, None);
    let mut other_tenant = execution("ns", "f");
    other_tenant.tenant_id = "other".into();
    other_tenant.state = State::starting_at(StateType::Created, at(0));
    other_tenant.state.transition_at(StateType::Success, at(1));
    s.create_execution(&other_tenant).unwrap();

    let purge = ExecutionPurge::new(scope(), at(30_000));
    let removed = s.purge_executions(&purge).unwrap();
    assert_eq!(
        removed,
        PurgedExecutions {
            executions: 2,
            task_runs: 2,
            logs: 4
        }
    );
    assert!(!exists(s, &old) && !exists(s, &old_failed));
    assert_eq!(lines(s, &old), 0);
    assert!(exists(s, &recent) && exists(s, &running) && exists(s, &other_tenant));
    assert_eq!(s.get_execution(&recent.id).unwrap().unwrap(), recent);
    // Nothing is left to purge: a second run removes nothing.
    let again = s.purge_executions(&purge).unwrap();
    assert_eq!(again, PurgedExecutions::default());
    // Every tenant at once reaches the other one's.
    let everywhere = ExecutionPurge::new(PurgeScope::all_tenants(), at(30_000));
    assert_eq!(s.purge_executions(&everywhere).unwrap().executions, 1);
    assert!(!exists(s, &other_tenant) && exists(s, &recent) && exists(s, &running));
}

pub fn an_execution_that_ends_later_is_purged_by_its_end(s: &dyn Store) {
    let mut e = stored(s, "ns", "f", 0, None);
    let before = ExecutionPurge::new(scope(), at(100_000));
    assert_eq!(s.purge_executions(&before).unwrap().executions, 0);
    e.state.transition_at(StateType::Running, at(10));
    e.state.transition_at(StateType::Killed, at(50_000));
    s.save_execution(&e).unwrap();
    let too_early = ExecutionPurge::new(scope(), at(50_000));
    assert_eq!(s.purge_executions(&too_early).unwrap().executions, 0);
    assert_eq!(s.purge_executions(&before).unwrap().executions, 1);
    assert!(!exists(s, &e));
}

pub fn filters_select_by_namespace_flow_state_and_start(s: &dyn Store) {
    let ended = Some((StateType::Success, 1_000));
    let parent = stored(s, "company", "f", 0, ended);
    let child = stored(s, "company.team", "f", 0, ended);
    let child_other_flow = stored(s, "company.team", "g", 0, ended);
    let sibling = stored(s, "companyx", "f", 0, ended);
    let failed = stored(s, "company.team", "f", 0, Some((StateType::Failed, 1_000)));
    let late_start = stored(s, "company.team", "f", 500, ended);

    // A flow id makes the namespace exact: `company` with flow `f` is not `company.team`.
    let mut exact = scope();
    exact.namespace = Some("company".into());
    exact.flow_id = Some("f".into());
    let removed = s
        .purge_executions(&ExecutionPurge::new(exact, at(5_000)))
        .unwrap();
    assert_eq!(removed.executions, 1);
    assert!(!exists(s, &parent) && exists(s, &child));

    // States and start date.
    let mut team = scope();
    team.namespace = Some("company".into());
    let purge = ExecutionPurge {
        states: vec![StateType::Failed],
        ..ExecutionPurge::new(team.clone(), at(5_000))
    };
    assert_eq!(s.purge_executions(&purge).unwrap().executions, 1);
    assert!(!exists(s, &failed) && exists(s, &child));
    let purge = ExecutionPurge {
        started_after: Some(at(400)),
        ..ExecutionPurge::new(team.clone(), at(5_000))
    };
    assert_eq!(s.purge_executions(&purge).unwrap().executions, 1);
    assert!(!exists(s, &late_start) && exists(s, &child));

    // Allowed scopes, and the execution that runs the purge, are never crossed.
    let mut limited = scope();
    limited.namespace_scopes = Some(vec!["company.team".into()]);
    limited.keep_execution = Some(child.id.clone());
    let removed = s
        .purge_executions(&ExecutionPurge::new(limited, at(5_000)))
        .unwrap();
    assert_eq!(removed.executions, 1);
    assert!(!exists(s, &child_other_flow));
    assert!(exists(s, &child) && exists(s, &sibling));

    // A prefix does not match `companyx`.
    let removed = s
        .purge_executions(&ExecutionPurge::new(team, at(5_000)))
        .unwrap();
    assert_eq!(removed.executions, 1);
    assert!(!exists(s, &child) && exists(s, &sibling));

    let mut nothing = scope();
    nothing.namespace_scopes = Some(Vec::new());
    let removed = s
        .purge_executions(&ExecutionPurge::new(nothing, at(5_000)))
        .unwrap();
    assert_eq!(removed, PurgedExecutions::default());
}

pub fn purging_only_logs_keeps_the_executions(s: &dyn Store) {
    let e = stored(s, "ns", "f", 0, Some((StateType::Success, 1_000)));
    let purge = ExecutionPurge {
        executions: false,
        ..ExecutionPurge::new(scope(), at(5_000))
    };
    let removed = s.purge_executions(&purge).unwrap();
    assert_eq!(
        removed,
        PurgedExecutions {
            executions: 0,
            task_runs: 0,
            logs: 2
        }
    );
    assert_eq!(s.get_execution(&e.id).unwrap().unwrap(), e);
    assert_eq!(lines(s, &e), 0);
    let neither = ExecutionPurge {
        executions: false,
        logs: false,
        ..ExecutionPurge::new(scope(), at(5_000))
    };
    assert_eq!(
        s.purge_executions(&neither).unwrap(),
        PurgedExecutions::default()
    );
    assert!(exists(s, &e));
}

pub fn more_than_one_batch_is_purged_and_counted(s: &dyn Store) {
    let n = PURGE_BATCH as usize * 2 + 7;
    let executions: Vec<Execution> = (0..n)
        .map(|i| {
            let mut e = Execution::new("main", "ns", "f", 1);
            e.state = State::starting_at(StateType::Created, at(0));
            // Several share an end date, so that the batch cursor has to break ties.
            e.state
                .transition_at(StateType::Success, at(1 + (i as i64 % 5)));
            e
        })
        .collect();
    let entries: Vec<LogEntry> = executions.iter().map(|e| line(e, 0, Level::Info)).collect();
    let mut writes: Vec<Write<'_>> = executions.iter().map(Write::CreateExecution).collect();
    writes.push(Write::AppendLogs(&entries));
    s.write(&writes).unwrap();
    let keep = stored(s, "ns", "f", 0, Some((StateType::Success, 1)));

    let mut purge_scope = scope();
    purge_scope.keep_execution = Some(keep.id.clone());
    let purge = ExecutionPurge {
        executions: false,
        ..ExecutionPurge::new(purge_scope.clone(), at(1_000))
    };
    assert_eq!(s.purge_executions(&purge).unwrap().logs, n as u64);
    let removed = s
        .purge_executions(&ExecutionPurge::new(purge_scope, at(1_000)))
        .unwrap();
    assert_eq!(removed.executions, n as u64);
    assert_eq!(removed.logs, 0);
    assert!(exists(s, &keep));
    assert_eq!(lines(s, &keep), 2);
}

pub fn a_log_purge_filters_by_date_level_execution_and_namespace(s: &dyn Store) {
    let running = stored(s, "company.team", "f", 0, None);
    let ended = stored(s, "company.team", "g", 0, Some((StateType::Success, 3_000)));
    let elsewhere = stored(s, "other", "f", 0, Some((StateType::Success, 3_000)));

    // Levels: only the DEBUG lines (at 0) of every namespace.
    let purge = LogPurge {
        levels: vec![Level::Debug, Level::Trace],
        ..LogPurge::new(scope(), at(10_000))
    };
    assert_eq!(s.purge_logs(&purge).unwrap(), 3);
    for e in [&running, &ended, &elsewhere] {
        let left = s.list_logs(&LogQuery::new(&e.id)).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].entry.level, Level::Error);
    }

    // Dates: [after, before).
    let mut team = scope();
    team.namespace = Some("company".into());
    let purge = LogPurge {
        after: Some(at(2_000)),
        ..LogPurge::new(team.clone(), at(3_000))
    };
    assert_eq!(s.purge_logs(&purge).unwrap(), 0);
    let purge = LogPurge {
        after: Some(at(2_000)),
        ..LogPurge::new(team.clone(), at(3_001))
    };
    assert_eq!(s.purge_logs(&purge).unwrap(), 1);
    assert_eq!(lines(s, &ended), 0);

    // One execution, the namespace, and the execution the purge runs in.
    let purge = LogPurge {
        execution_id: Some(elsewhere.id.clone()),
        ..LogPurge::new(team.clone(), at(10_000))
    };
    assert_eq!(s.purge_logs(&purge).unwrap(), 0);
    team.keep_execution = Some(running.id.clone());
    assert_eq!(s.purge_logs(&LogPurge::new(team, at(10_000))).unwrap(), 0);
    assert_eq!(lines(s, &running), 1);
    let purge = LogPurge {
        execution_id: Some(elsewhere.id.clone()),
        ..LogPurge::new(scope(), at(10_000))
    };
    assert_eq!(s.purge_logs(&purge).unwrap(), 1);
    assert!(exists(s, &elsewhere) && exists(s, &ended) && exists(s, &running));
}

pub fn the_audit_trail_is_never_purged<S: Store + AuditLog>(s: &S) {
    let e = stored(s, "ns", "f", 0, Some((StateType::Success, 1_000)));
    for n in 0..3 {
        s.append_audit(&AuditEvent {
            timestamp: at(n),
            tenant: "main".into(),
            namespace: Some("ns".into()),
            key: Some("K".into()),
            action: "read".into(),
            actor: "worker".into(),
            service: Some("WORKER".into()),
            execution_id: Some(e.id.clone()),
            flow_id: Some("f".into()),
            task_run_id: None,
            outcome: "success".into(),
            detail: None,
        })
        .unwrap();
    }
    s.purge_executions(&ExecutionPurge::new(scope(), at(5_000)))
        .unwrap();
    s.purge_logs(&LogPurge::new(scope(), at(5_000))).unwrap();
    assert!(!exists(s, &e));
    let report = verify_audit(s).unwrap();
    assert!(report.is_intact(), "{:?}", report.problem);
    assert_eq!(report.verified, 3);
}
