//! The log lines contract, for every backend.

use saker_model::execution::Level;
use saker_store::{LogQuery, Store, StoreError};

use crate::common::{execution, log, task_run};

pub fn lines_come_back_in_order_with_growing_seq(s: &dyn Store) {
    let e = execution("ns", "f");
    let other = execution("ns", "f");
    s.create_execution(&e).unwrap();
    s.create_execution(&other).unwrap();
    let lines: Vec<_> = (0..5)
        .map(|i| log(&e, None, Level::Info, &format!("line {i}")))
        .collect();
    s.append_logs(&lines[..2]).unwrap();
    s.append_logs(&[log(&other, None, Level::Info, "elsewhere")])
        .unwrap();
    s.append_logs(&lines[2..]).unwrap();

    let got = s.list_logs(&LogQuery::new(&e.id)).unwrap();
    let entries: Vec<_> = got.iter().map(|l| l.entry.clone()).collect();
    assert_eq!(entries, lines);
    assert!(got.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(s.list_logs(&LogQuery::new("unknown")).unwrap(), []);
    s.append_logs(&[]).unwrap();
}

pub fn the_cursor_returns_only_newer_lines(s: &dyn Store) {
    let e = execution("ns", "f");
    s.create_execution(&e).unwrap();
    s.append_logs(&[
        log(&e, None, Level::Info, "a"),
        log(&e, None, Level::Info, "b"),
    ])
    .unwrap();
    let seen = s.list_logs(&LogQuery::new(&e.id)).unwrap();
    let cursor = seen.last().unwrap().seq;

    let follow = LogQuery {
        after_seq: Some(cursor),
        ..LogQuery::new(&e.id)
    };
    assert_eq!(s.list_logs(&follow).unwrap(), []);
    s.append_logs(&[log(&e, None, Level::Info, "c")]).unwrap();
    let newer = s.list_logs(&follow).unwrap();
    assert_eq!(newer.len(), 1);
    assert_eq!(newer[0].entry.message, "c");
    assert!(newer[0].seq > cursor);

    let from_first = LogQuery {
        after_seq: Some(seen[0].seq),
        limit: Some(1),
        ..LogQuery::new(&e.id)
    };
    let page = s.list_logs(&from_first).unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].entry.message, "b");
}

pub fn filters_by_level_and_task_run(s: &dyn Store) {
    let e = execution("ns", "f");
    let t1 = task_run(&e, "one");
    let t2 = task_run(&e, "two");
    s.create_execution(&e).unwrap();
    s.append_logs(&[
        log(&e, None, Level::Debug, "setup"),
        log(&e, Some(&t1), Level::Info, "t1 info"),
        log(&e, Some(&t1), Level::Error, "t1 error"),
        log(&e, Some(&t2), Level::Warn, "t2 warn"),
        log(&e, Some(&t2), Level::Trace, "t2 trace"),
    ])
    .unwrap();
    let messages = |q: LogQuery| -> Vec<String> {
        s.list_logs(&q)
            .unwrap()
            .into_iter()
            .map(|l| l.entry.message)
            .collect()
    };
    let warn = LogQuery {
        min_level: Some(Level::Warn),
        ..LogQuery::new(&e.id)
    };
    assert_eq!(messages(warn), ["t1 error", "t2 warn"]);
    let trace = LogQuery {
        min_level: Some(Level::Trace),
        ..LogQuery::new(&e.id)
    };
    assert_eq!(messages(trace).len(), 5);
    let t2_only = LogQuery {
        task_run_id: Some(t2.id.clone()),
        ..LogQuery::new(&e.id)
    };
    assert_eq!(messages(t2_only), ["t2 warn", "t2 trace"]);
    let t1_info = LogQuery {
        task_run_id: Some(t1.id.clone()),
        min_level: Some(Level::Info),
        limit: Some(1),
        ..LogQuery::new(&e.id)
    };
    assert_eq!(messages(t1_info), ["t1 info"]);
}

pub fn lines_of_an_unknown_execution_are_refused_all_together(s: &dyn Store) {
    let e = execution("ns", "f");
    let ghost = execution("ns", "f");
    s.create_execution(&e).unwrap();
    let err = s
        .append_logs(&[
            log(&e, None, Level::Info, "ok"),
            log(&ghost, None, Level::Info, "no"),
        ])
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { kind: "execution", id } if *id == ghost.id),
        "{err}"
    );
    assert_eq!(s.list_logs(&LogQuery::new(&e.id)).unwrap(), []);
}
