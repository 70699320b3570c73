//! The executions and task runs contract, for every backend.

use saker_model::execution::{Level, StateType};
use saker_store::{ExecutionFilter, LogQuery, Store, StoreError, Write};

use crate::common::{execution, log, task_run, transition};

/// The ids at `positions`, in that order.
fn pick(ids: &[String], positions: &[usize]) -> Vec<String> {
    positions.iter().map(|&i| ids[i].clone()).collect()
}

pub fn an_execution_round_trips_with_its_task_runs_in_creation_order(s: &dyn Store) {
    let mut e = execution("company.team", "hello");
    let first = task_run(&e, "first");
    e.task_run_list.push(first.clone());
    s.create_execution(&e).unwrap();

    let mut second = task_run(&e, "second");
    s.save_task_run(&second).unwrap();
    // Saving the first run again must not move it after the second.
    let mut first = first;
    transition(&mut first, StateType::Running);
    s.save_task_run(&first).unwrap();
    transition(&mut second, StateType::Success);
    s.save_task_run(&second).unwrap();

    let got = s.get_execution(&e.id).unwrap().unwrap();
    e.task_run_list = vec![first, second];
    assert_eq!(got, e);
    assert_eq!(s.get_execution("missing").unwrap(), None);
}

pub fn creating_twice_is_refused(s: &dyn Store) {
    let e = execution("ns", "f");
    s.create_execution(&e).unwrap();
    let err = s.create_execution(&e).unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadyExists { kind: "execution", id } if *id == e.id),
        "{err}"
    );
}

pub fn saving_replaces_the_execution_but_not_its_task_runs(s: &dyn Store) {
    let mut e = execution("ns", "f");
    s.create_execution(&e).unwrap();
    let tr = task_run(&e, "t");
    s.save_task_run(&tr).unwrap();

    e.state.transition(StateType::Running);
    e.state.transition(StateType::Success);
    e.outputs
        .insert("result".into(), serde_json::json!({"rows": [1, 2]}));
    e.labels.insert("new".into(), serde_json::json!(true));
    // A task run only in memory is not stored by save_execution.
    e.task_run_list.push(task_run(&e, "unsaved"));
    s.save_execution(&e).unwrap();

    let got = s.get_execution(&e.id).unwrap().unwrap();
    assert_eq!(got.state, e.state);
    assert_eq!(got.outputs, e.outputs);
    assert_eq!(got.labels, e.labels);
    assert_eq!(got.task_run_list, vec![tr]);
}

pub fn saving_an_unknown_execution_is_not_found(s: &dyn Store) {
    let e = execution("ns", "f");
    let err = s.save_execution(&e).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                kind: "execution",
                ..
            }
        ),
        "{err}"
    );
}

pub fn an_execution_keeps_its_identity(s: &dyn Store) {
    let mut e = execution("ns", "f");
    s.create_execution(&e).unwrap();
    for change in [
        |e: &mut saker_model::execution::Execution| e.tenant_id = "other".into(),
        |e: &mut saker_model::execution::Execution| e.namespace = "other".into(),
        |e: &mut saker_model::execution::Execution| e.flow_id = "other".into(),
        |e: &mut saker_model::execution::Execution| e.flow_revision += 1,
    ] {
        let mut changed = e.clone();
        change(&mut changed);
        let err = s.save_execution(&changed).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Conflict {
                    kind: "execution",
                    ..
                }
            ),
            "{err}"
        );
    }
    e.state.transition(StateType::Running);
    s.save_execution(&e).unwrap();
    assert_eq!(s.get_execution(&e.id).unwrap().unwrap(), e);
}

pub fn a_task_run_needs_its_execution(s: &dyn Store) {
    let e = execution("ns", "f");
    let err = s.save_task_run(&task_run(&e, "t")).unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { kind: "execution", id } if *id == e.id),
        "{err}"
    );
}

pub fn a_task_run_id_cannot_move_to_another_execution(s: &dyn Store) {
    let a = execution("ns", "f");
    let b = execution("ns", "f");
    s.create_execution(&a).unwrap();
    s.create_execution(&b).unwrap();
    let tr = task_run(&a, "t");
    s.save_task_run(&tr).unwrap();

    let mut moved = tr.clone();
    moved.execution_id = b.id.clone();
    let err = s.save_task_run(&moved).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                kind: "task run",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        s.get_execution(&a.id).unwrap().unwrap().task_run_list,
        vec![tr]
    );
    assert_eq!(
        s.get_execution(&b.id).unwrap().unwrap().task_run_list,
        vec![]
    );
}

pub fn creating_with_a_foreign_task_run_stores_nothing(s: &dyn Store) {
    let other = execution("ns", "f");
    let mut e = execution("ns", "f");
    e.task_run_list.push(task_run(&other, "t"));
    let err = s.create_execution(&e).unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(s.get_execution(&e.id).unwrap(), None);
}

pub fn a_batch_is_applied_in_order(s: &dyn Store) {
    let mut e = execution("ns", "f");
    let created = e.clone();
    let mut tr = task_run(&e, "t");
    let tr_created = tr.clone();
    transition(&mut tr, StateType::Running);
    e.state.transition(StateType::Running);
    let line = log(&e, Some(&tr), Level::Info, "hello");
    s.write(&[
        Write::CreateExecution(&created),
        Write::SaveTaskRun(&tr_created),
        Write::SaveTaskRun(&tr),
        Write::SaveExecution(&e),
        Write::AppendLogs(std::slice::from_ref(&line)),
    ])
    .unwrap();
    let got = s.get_execution(&e.id).unwrap().unwrap();
    assert_eq!(got.state.current, StateType::Running);
    assert_eq!(got.task_run_list, vec![tr]);
    let logs = s.list_logs(&LogQuery::new(&e.id)).unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].entry, line);
    s.write(&[]).unwrap();
}

pub fn deleted_task_runs_are_gone_but_not_another_executions_or_the_logs(s: &dyn Store) {
    let mut e = execution("ns", "f");
    let keep = task_run(&e, "keep");
    let drop = task_run(&e, "drop");
    e.task_run_list = vec![keep.clone(), drop.clone()];
    s.create_execution(&e).unwrap();
    let mut other = execution("ns", "f");
    let theirs = task_run(&other, "theirs");
    other.task_run_list = vec![theirs.clone()];
    s.create_execution(&other).unwrap();
    let line = log(&e, Some(&drop), Level::Info, "said by the dropped run");
    s.append_logs(std::slice::from_ref(&line)).unwrap();
    let ids = vec![drop.id.clone(), theirs.id.clone()];
    s.write(&[Write::DeleteTaskRuns {
        execution_id: &e.id,
        task_run_ids: &ids,
    }])
    .unwrap();
    assert_eq!(
        s.get_execution(&e.id).unwrap().unwrap().task_run_list,
        vec![keep]
    );
    // A run of another execution named by mistake is left alone.
    assert_eq!(
        s.get_execution(&other.id).unwrap().unwrap().task_run_list,
        vec![theirs]
    );
    assert_eq!(s.list_logs(&LogQuery::new(&e.id)).unwrap().len(), 1);
}

pub fn a_failing_batch_leaves_nothing_behind(s: &dyn Store) {
    let e = execution("ns", "f");
    let tr = task_run(&e, "t");
    let stranger = execution("ns", "f");
    let orphan = task_run(&stranger, "t");
    let lines = [log(&e, Some(&tr), Level::Info, "one")];
    let err = s
        .write(&[
            Write::CreateExecution(&e),
            Write::SaveTaskRun(&tr),
            Write::AppendLogs(&lines),
            Write::SaveTaskRun(&orphan),
        ])
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { id, .. } if *id == stranger.id),
        "the error names the failing item: {err}"
    );
    assert_eq!(s.get_execution(&e.id).unwrap(), None);
    assert_eq!(s.list_logs(&LogQuery::new(&e.id)).unwrap(), []);
    // The store is still usable after the rollback.
    s.create_execution(&e).unwrap();
}

pub fn listing_filters_and_returns_newest_first(s: &dyn Store) {
    let specs = [
        ("main", "company", "a", StateType::Success),
        ("main", "company.team", "a", StateType::Running),
        ("main", "company.team", "b", StateType::Failed),
        ("main", "companyx", "a", StateType::Success),
        ("acme", "company", "a", StateType::Success),
    ];
    let mut ids = Vec::new();
    for (tenant, ns, flow, state) in specs {
        let mut e = execution(ns, flow);
        e.tenant_id = tenant.to_owned();
        e.task_run_list.push(task_run(&e, "t"));
        e.state.transition(state);
        s.create_execution(&e).unwrap();
        ids.push(e.id);
    }
    let list = |f: &ExecutionFilter| -> Vec<String> {
        s.list_executions(f)
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect()
    };

    let all_main = ExecutionFilter::new("main");
    assert_eq!(list(&all_main), pick(&ids, &[3, 2, 1, 0]));
    assert!(
        s.list_executions(&all_main)
            .unwrap()
            .iter()
            .all(|e| e.task_run_list.is_empty()),
        "listings leave task runs out"
    );

    let company = ExecutionFilter {
        namespace_prefix: Some("company".into()),
        ..ExecutionFilter::new("main")
    };
    assert_eq!(list(&company), pick(&ids, &[2, 1, 0]));

    let flow_a = ExecutionFilter {
        flow_id: Some("a".into()),
        ..company.clone()
    };
    assert_eq!(list(&flow_a), pick(&ids, &[1, 0]));

    let done = ExecutionFilter {
        states: vec![StateType::Success, StateType::Failed],
        ..ExecutionFilter::new("main")
    };
    assert_eq!(list(&done), pick(&ids, &[3, 2, 0]));

    let page = ExecutionFilter {
        limit: Some(2),
        offset: 1,
        ..ExecutionFilter::new("main")
    };
    assert_eq!(list(&page), pick(&ids, &[2, 1]));
    let unbounded = ExecutionFilter {
        limit: None,
        offset: 3,
        ..ExecutionFilter::new("main")
    };
    assert_eq!(list(&unbounded), pick(&ids, &[0]));

    assert_eq!(list(&ExecutionFilter::new("acme")), pick(&ids, &[4]));
    assert_eq!(list(&ExecutionFilter::new("nobody")), Vec::<String>::new());

    // Scopes filter before paging, so a page is full even for a caller who sees little.
    let scoped_page = ExecutionFilter {
        namespace_scopes: Some(vec!["company.team".into(), "other".into()]),
        limit: Some(2),
        offset: 0,
        ..ExecutionFilter::new("main")
    };
    assert_eq!(list(&scoped_page), pick(&ids, &[2, 1]));
    // A count ignores paging: the total of every page.
    assert_eq!(s.count_executions(&page).unwrap(), 4);
    assert_eq!(s.count_executions(&company).unwrap(), 3);
    assert_eq!(s.count_executions(&scoped_page).unwrap(), 2);
    assert_eq!(
        s.count_executions(&ExecutionFilter::new("acme")).unwrap(),
        1
    );
    let nothing = ExecutionFilter {
        namespace_scopes: Some(Vec::new()),
        ..ExecutionFilter::new("main")
    };
    assert_eq!(list(&nothing), Vec::<String>::new());
}

pub fn executions_in_states_finds_unfinished_ones_oldest_first(s: &dyn Store) {
    let mut ids = Vec::new();
    for (tenant, state) in [
        ("main", StateType::Running),
        ("main", StateType::Success),
        ("acme", StateType::Created),
        ("main", StateType::Running),
    ] {
        let mut e = execution("ns", "f");
        e.tenant_id = tenant.into();
        s.create_execution(&e).unwrap();
        if state != StateType::Created {
            e.state.transition(state);
            s.save_execution(&e).unwrap();
        }
        ids.push(e.id);
    }
    let found = s
        .executions_in_states(&[StateType::Created, StateType::Running])
        .unwrap();
    assert_eq!(found, pick(&ids, &[0, 2, 3]));
    assert_eq!(
        s.executions_in_states(&[StateType::Killing]).unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(s.executions_in_states(&[]).unwrap(), Vec::<String>::new());
}

pub fn deleting_an_execution_takes_its_task_runs_and_logs(s: &dyn Store) {
    let mut e = execution("ns", "f");
    let tr = task_run(&e, "t");
    e.task_run_list.push(tr.clone());
    let keep = execution("ns", "f");
    s.create_execution(&e).unwrap();
    s.create_execution(&keep).unwrap();
    s.append_logs(&[
        log(&e, Some(&tr), Level::Info, "x"),
        log(&keep, None, Level::Info, "y"),
    ])
    .unwrap();

    assert!(s.delete_execution(&e.id).unwrap());
    assert!(!s.delete_execution(&e.id).unwrap());
    assert_eq!(s.get_execution(&e.id).unwrap(), None);
    assert_eq!(s.list_logs(&LogQuery::new(&e.id)).unwrap(), []);
    assert_eq!(s.list_logs(&LogQuery::new(&keep.id)).unwrap().len(), 1);
    // The task run went too: its id can be stored again under a new execution.
    s.create_execution(&e).unwrap();
    assert_eq!(
        s.get_execution(&e.id).unwrap().unwrap().task_run_list,
        vec![tr]
    );
}
