//! Several threads on one store, for every backend: writers do not lose each other's rows,
//! readers never see a half-written batch, a log follower misses nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use saker_model::execution::{Level, StateType};
use saker_store::{ExecutionFilter, LogQuery, Store, Write};

use crate::common::{execution, log, task_run, transition};

const WRITERS: usize = 4;
const PER_WRITER: usize = 60;

pub fn concurrent_writers_and_readers_see_whole_batches(store: Arc<dyn Store>) {
    let done = Arc::new(AtomicBool::new(false));

    let readers: Vec<_> = (0..2)
        .map(|_| {
            let store = Arc::clone(&store);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut checked = 0usize;
                while !done.load(Ordering::Acquire) {
                    let listed = store
                        .list_executions(&ExecutionFilter::new("main"))
                        .unwrap();
                    for e in listed.iter().take(5) {
                        // Each execution is written in one batch with two task runs and a
                        // log line: a reader sees all of it or none of it.
                        let full = store.get_execution(&e.id).unwrap().unwrap();
                        assert_eq!(full.task_run_list.len(), 2);
                        assert_eq!(store.list_logs(&LogQuery::new(&e.id)).unwrap().len(), 1);
                        checked += 1;
                    }
                }
                checked
            })
        })
        .collect();

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for n in 0..PER_WRITER {
                    let mut e = execution(&format!("ns.w{w}"), "f");
                    e.task_run_list.push(task_run(&e, "a"));
                    e.task_run_list.push(task_run(&e, "b"));
                    let lines = [log(&e, None, Level::Info, &format!("{w}/{n}"))];
                    store
                        .write(&[Write::CreateExecution(&e), Write::AppendLogs(&lines)])
                        .unwrap();
                    let mut tr = e.task_run_list[0].clone();
                    transition(&mut tr, StateType::Success);
                    e.state.transition(StateType::Success);
                    store
                        .write(&[Write::SaveTaskRun(&tr), Write::SaveExecution(&e)])
                        .unwrap();
                    ids.push(e.id);
                }
                ids
            })
        })
        .collect();

    let mut all_ids = Vec::new();
    for w in writers {
        all_ids.extend(w.join().unwrap());
    }
    done.store(true, Ordering::Release);
    for r in readers {
        r.join().unwrap();
    }

    let everything = ExecutionFilter {
        limit: None,
        ..ExecutionFilter::new("main")
    };
    let listed = store.list_executions(&everything).unwrap();
    assert_eq!(listed.len(), WRITERS * PER_WRITER);
    assert!(listed.iter().all(|e| e.state.current == StateType::Success));
    for id in &all_ids {
        let e = store.get_execution(id).unwrap().unwrap();
        assert_eq!(e.task_run_list[0].state.current, StateType::Success);
        assert_eq!(e.task_run_list[1].state.current, StateType::Created);
    }
    for w in 0..WRITERS {
        let mine = ExecutionFilter {
            namespace_prefix: Some(format!("ns.w{w}")),
            limit: None,
            ..ExecutionFilter::new("main")
        };
        assert_eq!(store.list_executions(&mine).unwrap().len(), PER_WRITER);
    }
}

pub fn a_follower_sees_every_line_once_in_order(store: Arc<dyn Store>) {
    let e = execution("ns", "f");
    store.create_execution(&e).unwrap();
    // Another execution's lines interleave with the followed one's seq numbers.
    let noise = execution("ns", "f");
    store.create_execution(&noise).unwrap();
    const BATCHES: usize = 200;

    let writer = {
        let store = Arc::clone(&store);
        let (e, noise) = (e.clone(), noise.clone());
        std::thread::spawn(move || {
            let mut expected = Vec::new();
            for b in 0..BATCHES {
                let lines: Vec<_> = (0..=(b % 4))
                    .map(|i| log(&e, None, Level::Info, &format!("{b}.{i}")))
                    .collect();
                expected.extend(lines.iter().map(|l| l.message.clone()));
                store
                    .write(&[
                        Write::AppendLogs(&lines),
                        Write::AppendLogs(&[log(&noise, None, Level::Info, "noise")]),
                    ])
                    .unwrap();
            }
            expected
        })
    };

    let mut seen = Vec::new();
    let mut cursor = None;
    let mut last_seq = i64::MIN;
    loop {
        let finished = writer.is_finished();
        let page = store
            .list_logs(&LogQuery {
                after_seq: cursor,
                limit: Some(7),
                ..LogQuery::new(&e.id)
            })
            .unwrap();
        for line in &page {
            assert!(line.seq > last_seq, "seq must strictly increase");
            last_seq = line.seq;
            seen.push(line.entry.message.clone());
        }
        cursor = page.last().map(|l| l.seq).or(cursor);
        // Only stop on an empty page read after the writer had finished.
        if finished && page.is_empty() {
            break;
        }
    }
    let expected = writer.join().unwrap();
    assert_eq!(seen, expected);
}
