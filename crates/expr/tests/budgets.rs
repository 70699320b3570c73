//! A render stops with a clear error when it runs past its step or memory budget, or when its
//! caller cancels it or its deadline passes, in the template engine and in jq alike.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use saker_expr::{Context, ErrorKind, Limits, RenderEnv, Template};

fn stopped(template: &str, env: &RenderEnv<'_>) -> ErrorKind {
    Template::compile(template)
        .expect("compiles")
        .render(&Context::new(), env)
        .expect_err(template)
        .kind
}

fn small() -> RenderEnv<'static> {
    RenderEnv {
        limits: Limits {
            max_steps: 200_000,
            max_value_bytes: 4 << 20,
            ..Limits::DEFAULT
        },
        ..RenderEnv::default()
    }
}

#[test]
fn doubling_a_string_hits_the_memory_budget() {
    // `{% set %}` in a loop body is scoped to the iteration: the doubling is written out.
    let t = format!("{{% set s = 'x' %}}{}", "{% set s = s ~ s %}".repeat(40));
    let kind = stopped(&t, &small());
    assert!(matches!(kind, ErrorKind::MemoryBudget(_)), "{kind}");
    assert!(
        kind.to_string().contains("expressions.max-value-bytes"),
        "{kind}"
    );
}

#[test]
fn values_that_share_their_parts_are_counted_expanded() {
    // Each line doubles what printing `x` writes, not the memory `x` holds.
    let t = format!(
        "{{% set x = 'abcdefgh' %}}{}{{{{ x }}}}",
        "{% set x = [x, x] %}".repeat(64)
    );
    let kind = stopped(&t, &small());
    assert!(matches!(kind, ErrorKind::MemoryBudget(_)), "{kind}");
    let t = format!(
        "{{% set x = 1 %}}{}{{{{ x | jq('.') }}}}",
        "{% set x = {'a': x, 'b': x} %}".repeat(64)
    );
    let kind = stopped(&t, &small());
    assert!(matches!(kind, ErrorKind::MemoryBudget(_)), "{kind}");
}

#[test]
fn long_loops_hit_the_step_budget() {
    let kind = stopped(
        "{% for i in range(1, 1000) %}{% for j in range(1, 1000) %}{{ i + j }}{% endfor %}{% endfor %}",
        &small(),
    );
    assert!(matches!(kind, ErrorKind::StepBudget(200_000)), "{kind}");
    assert!(kind.to_string().contains("expressions.max-steps"), "{kind}");
}

#[test]
fn jq_shares_the_render_budget() {
    for program in [
        "def f: f; f",
        "[range(1e9)]",
        "\"a\" * 1e9",
        "until(false; .)",
    ] {
        let kind = stopped(&format!("{{{{ 1 | jq('{program}') }}}}"), &small());
        assert!(
            matches!(kind, ErrorKind::StepBudget(_) | ErrorKind::MemoryBudget(_)),
            "{program}: {kind}"
        );
    }
}

#[test]
fn a_cancelled_render_stops() {
    let flag = AtomicBool::new(true);
    let env = RenderEnv {
        cancel: Some(&flag),
        ..RenderEnv::default()
    };
    let loops =
        "{% for i in range(1, 1000) %}{% for j in range(1, 1000) %}{% endfor %}{% endfor %}";
    assert_eq!(stopped(loops, &env), ErrorKind::Cancelled);
    assert_eq!(
        stopped("{{ 1 | jq('def f: f; f') }}", &env),
        ErrorKind::Cancelled
    );
    let late = RenderEnv {
        deadline: Some(Instant::now()),
        ..RenderEnv::default()
    };
    assert_eq!(stopped(loops, &late), ErrorKind::DeadlineExceeded);
}

#[test]
fn ordinary_renders_fit_the_default_budgets() {
    let r = Template::compile(
        "{% for i in range(1, 2000) %}{{ i | string | upper }}{% endfor %}{{ '[1,2,3]' | jq('map(. * 2) | add') }}",
    )
    .expect("compiles")
    .render(&Context::new(), &RenderEnv::default())
    .expect("renders");
    assert!(r.text.ends_with("[12]"), "{}", &r.text[r.text.len() - 10..]);
}
