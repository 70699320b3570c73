//! Worker groups (`workerGroup: {key: …}`), on real processes: a task of a group that no
//! living worker serves waits, with a warning in its execution's log saying how to start
//! one; once `saker server worker --worker-group KEY` starts, the task runs there, and only
//! there. A standalone server, which has one worker, runs such a task itself and says that
//! worker groups need distributed mode.

mod common;
#[path = "common/distributed.rs"]
mod distributed;

use common::*;
use distributed::{Api, Cluster, Role, Settings, task_run};

const FLOW: &str = "id: train\nnamespace: company.team\ntasks:\n  - id: prepare\n    type: io.kestra.plugin.core.log.Log\n    message: preparing\n  - id: fit\n    type: io.kestra.plugin.core.log.Log\n    message: fitting on the gpu\n    workerGroup:\n      key: gpu\n";

/// The log lines of `id` that warn about worker group `gpu`.
fn gpu_warnings(api: &Api, id: &str) -> Vec<String> {
    api.log_lines(id)
        .iter()
        .filter(|line| line["level"] == "WARN")
        .filter_map(|line| line["message"].as_str())
        .filter(|message| message.contains("'gpu'"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_task_waits_for_a_worker_of_its_group_then_runs_on_it() {
    let cluster = Cluster::start(&Settings::with_strategy("IMMEDIATELY"));
    let mut executor = cluster.spawn(Role::Executor, "executor", &[]);
    executor.wait_log("is the active executor");
    let mut default_worker = cluster.spawn(Role::Worker, "worker", &[]);
    let default_id = default_worker.instance_id(&cluster);
    let (_webserver, api) = cluster.webserver("webserver");
    let port = api.port;
    api.deploy(FLOW);

    let id = api.create_execution("company.team", "train");
    // The first task runs on the default worker; the second waits, and the log says why and
    // what to start.
    let warning = eventually(
        "the warning about worker group gpu",
        || match gpu_warnings(&api, &id).as_slice() {
            [one] => Ok(one.clone()),
            other => Err(format!("{other:?}")),
        },
    );
    assert!(
        warning.contains("saker server worker --worker-group gpu") && warning.contains("fit"),
        "{warning}"
    );
    let waiting = api.execution(&id);
    assert_eq!(waiting["state"]["current"], "RUNNING", "{waiting}");
    assert_eq!(
        task_run(&waiting, "prepare")["state"]["current"],
        "SUCCESS",
        "{waiting}"
    );
    let fit = task_run(&waiting, "fit");
    assert_eq!(fit["state"]["current"], "RUNNING", "{waiting}");
    let fit_run = fit["id"].as_str().unwrap().to_owned();
    // The default worker stays free of it: nobody holds the job.
    assert_eq!(cluster.job_holder(&fit_run), None);
    default_worker.check_alive().unwrap();

    let mut gpu_worker = cluster.spawn(Role::Worker, "gpu-worker", &["--worker-group", "gpu"]);
    let gpu_id = gpu_worker.instance_id(&cluster);
    let ended = wait_for_state(port, &id, "SUCCESS");
    assert_eq!(
        cluster.job_holder(&fit_run).as_deref(),
        Some(gpu_id.as_str())
    );
    let prepare_run = task_run(&ended, "prepare")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        cluster.job_holder(&prepare_run).as_deref(),
        Some(default_id.as_str())
    );
    // Warned once for the task run, not once per look at the queue.
    assert_eq!(gpu_warnings(&api, &id).len(), 1);
    assert!(
        api.log_lines(&id)
            .iter()
            .any(|line| line["message"] == "fitting on the gpu"),
        "{:?}",
        api.log_lines(&id)
    );

    // A worker of the group alive: the next execution waits for nothing and warns of nothing
    // (once the executor's answer about the group, kept for a second, is renewed).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let again = api.create_execution("company.team", "train");
    wait_for_state(port, &again, "SUCCESS");
    assert!(gpu_warnings(&api, &again).is_empty());
}

#[test]
fn a_standalone_server_runs_a_grouped_task_itself_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("server.log");
    let server = start_server_logging(&dir.path().join("data"), port, None, &[], Some(&log));
    let api = Api { port };
    api.deploy(FLOW);
    let id = api.create_execution("company.team", "train");
    wait_for_state(port, &id, "SUCCESS");
    let printed = std::fs::read_to_string(&log).unwrap();
    let warnings: Vec<&str> = printed
        .lines()
        .filter(|line| line.contains("worker groups need distributed mode"))
        .collect();
    assert_eq!(warnings.len(), 1, "{printed}");
    assert!(warnings[0].contains("gpu"), "{printed}");
    stop(server);
}

#[test]
fn unavailable_fallbacks_are_refused_when_the_flow_is_deployed() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_server(&dir.path().join("data"), port);
    let flow = FLOW.replace("key: gpu\n", "key: gpu\n      fallback: FAIL\n");
    let (status, body) = json(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", flow.as_str())),
    );
    assert_eq!(status, 422, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("FAIL is not available") && text.contains("workerGroup.fallback"),
        "{text}"
    );
    stop(server);
}
