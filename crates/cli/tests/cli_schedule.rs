//! `saker server local` runs the scheduler: a flow with a Schedule trigger starts by itself,
//! and its executions see `trigger.date`.

mod common;

use common::*;
use serde_json::Value;

const EVERY_SECOND: &str = "id: ticking\nnamespace: company.team\ntasks:\n  - id: hello\n    type: Log\n    message: \"scheduled for {{ trigger.date }}\"\ntriggers:\n  - id: every_second\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * * *\"\n    withSeconds: true\n";

/// The executions of the flow, once at least `n` exist (panics after a generous wait).
fn executions(port: u16, n: usize) -> Vec<Value> {
    eventually(
        &format!("the scheduler did not start {n} executions"),
        || {
            let (status, page) = json(
                port,
                "GET",
                "/api/v1/main/executions?namespace=company.team&flowId=ticking",
                None,
            );
            assert_eq!(status, 200, "{page}");
            let results = page["results"].as_array().cloned().unwrap_or_default();
            if results.len() >= n {
                Ok(results)
            } else {
                Err(page.to_string())
            }
        },
    )
}

#[test]
fn a_scheduled_flow_starts_by_itself_and_sees_its_date() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_server(dir.path(), port);
    deploy(port, EVERY_SECOND);

    let found = executions(port, 2);
    let id = found[0]["id"].as_str().unwrap().to_owned();
    let execution = wait_for_state(port, &id, "SUCCESS");
    let (_, logs) = json(port, "GET", &format!("/api/v1/main/logs/{id}"), None);
    let messages: Vec<String> = logs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["message"].as_str().map(str::to_owned))
        .collect();
    let line = messages
        .iter()
        .find(|m| m.starts_with("scheduled for "))
        .unwrap_or_else(|| panic!("no scheduled line in {messages:?}: {execution}"));
    // The date is a whole second, in UTC (the default timezone).
    let date = line.trim_start_matches("scheduled for ");
    let parsed =
        chrono::DateTime::parse_from_rfc3339(date).unwrap_or_else(|e| panic!("{date}: {e}"));
    assert_eq!(parsed.timestamp_subsec_nanos(), 0, "{date}");
    assert_eq!(parsed.offset().local_minus_utc(), 0, "{date}");

    // Each execution records its trigger, and no date started twice.
    let found = executions(port, 3);
    let dates: Vec<&str> = found
        .iter()
        .map(|e| {
            assert_eq!(e["trigger"]["id"], "every_second", "{e}");
            assert_eq!(
                e["trigger"]["type"], "io.kestra.plugin.core.trigger.Schedule",
                "{e}"
            );
            e["trigger"]["variables"]["date"].as_str().unwrap()
        })
        .collect();
    let distinct: std::collections::HashSet<&&str> = dates.iter().collect();
    assert_eq!(distinct.len(), dates.len(), "{dates:?}");
    stop(server);
}

#[test]
fn triggers_search_shows_next_dates_to_those_who_may_read_the_flow() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), ADMIN_CONFIG);
    add_team_user_alice(&data, &config);

    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));
    let admin = Some(ADMIN_BASIC);
    let alice = Some(ALICE_BASIC);
    let get = |path: &str, who: Option<&str>| {
        let (status, body) = http_as(port, "GET", path, None, who).unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str::<Value>(&body).unwrap()
    };
    for ns in ["company.team.x", "company.other"] {
        let flow = format!(
            "id: nightly\nnamespace: {ns}\ntasks:\n  - id: r\n    type: Return\n    format: x\ntriggers:\n  - id: at_two\n    type: Schedule\n    cron: \"0 2 * * *\"\n    timezone: Europe/Paris\n"
        );
        let (status, body) = http_as(
            port,
            "POST",
            "/api/v1/main/flows",
            Some(("application/x-yaml", &flow)),
            admin,
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
    }
    // The scheduler sees new flows on its next tick.
    let all = eventually("no trigger state appeared", || {
        let page = get("/api/v1/main/triggers/search", admin);
        if page["total"] == 2 {
            Ok(page)
        } else {
            Err(page.to_string())
        }
    });
    let context = &all["results"][0]["triggerContext"];
    assert_eq!(context["namespace"], "company.other", "{all}");
    assert_eq!(context["flowId"], "nightly");
    assert_eq!(context["triggerId"], "at_two");
    // 02:00 in Paris: 01:00 UTC in winter, 00:00 UTC in summer.
    let next = context["nextExecutionDate"].as_str().unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(next).unwrap().to_utc();
    assert!(
        next.format("%M:%S").to_string() == "00:00"
            && matches!(next.format("%H").to_string().as_str(), "00" | "01"),
        "{all}"
    );

    // Alice may read company.team and its children only.
    let mine = get("/api/v1/main/triggers/search", alice);
    assert_eq!(mine["total"], 1, "{mine}");
    assert_eq!(
        mine["results"][0]["triggerContext"]["namespace"],
        "company.team.x"
    );
    let none = get(
        "/api/v1/main/triggers/search?namespace=company.other",
        alice,
    );
    assert_eq!(none["total"], 0, "{none}");
    // Filters and pages.
    let team = get("/api/v1/main/triggers/search?namespace=company.team", admin);
    assert_eq!(team["total"], 1, "{team}");
    let second = get("/api/v1/main/triggers/search?size=1&page=2", admin);
    assert_eq!(second["total"], 2);
    assert_eq!(
        second["results"][0]["triggerContext"]["namespace"],
        "company.team.x"
    );
    let by_flow = get("/api/v1/main/triggers/search?flowId=other", admin);
    assert_eq!(by_flow["total"], 0, "{by_flow}");
    stop(server);

    // The same, without a server.
    let (ok, out, err) = saker_cli(&data, &config, &["trigger", "list"], "");
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[1].starts_with("company.other.nightly") && lines[1].contains("at_two"));
    assert!(lines[2].starts_with("company.team.x.nightly"), "{out}");
    let (ok, out, err) = saker_cli(
        &data,
        &config,
        &["trigger", "list", "--namespace", "company.team"],
        "",
    );
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    let (ok, out, err) = saker_cli(
        &data,
        &config,
        &["trigger", "list", "--tenant", "other"],
        "",
    );
    assert!(
        ok && out.is_empty() && err.contains("no scheduled trigger"),
        "{out}{err}"
    );
}
