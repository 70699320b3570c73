//! Compile and render of a typical task message (about 200 bytes, five substitutions), against
//! the same template in minijinja. Goal: a compiled render under 2 µs and no slower than 1.5×
//! minijinja, taint tracking included.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use saker_expr::{Context, RenderEnv, Template, Value};

const TEMPLATE: &str = "Task {{ task.id }} of flow {{ flow.namespace }}.{{ flow.id }} started at \
{{ taskrun.startDate }} for day {{ inputs.day | upper }}; the report is stored under \
reports/daily and will be sent to every subscriber of the team.";

fn json() -> serde_json::Value {
    serde_json::json!({
        "task": {"id": "daily-report", "type": "io.kestra.plugin.core.log.Log"},
        "flow": {"id": "report", "namespace": "company.team", "revision": 3},
        "taskrun": {"id": "3nP1qNo9Xj6fyR2GfbQ4vI", "startDate": "2026-11-22T10:00:00.123Z", "attemptsCount": 1},
        "inputs": {"day": "monday", "count": 3},
        "execution": {"id": "5wXbPQKJsS3Tv0IBg0mJBb"},
    })
}

fn bench(c: &mut Criterion) {
    assert!(
        TEMPLATE.len() >= 190 && TEMPLATE.len() <= 230,
        "{}",
        TEMPLATE.len()
    );
    let ctx = Context::from_json(&json());
    let mut tainted = ctx.clone();
    tainted.insert("inputs", Value::map([("day", Value::secret("monday"))]));
    let env = RenderEnv::default();

    let mut jinja = minijinja::Environment::new();
    jinja
        .add_template("t", TEMPLATE)
        .expect("minijinja compiles");
    let jctx = minijinja::Value::from(minijinja::value::Serde(json()));

    let ours = Template::compile(TEMPLATE).expect("compiles");
    let theirs = jinja.get_template("t").expect("present");
    let a = ours.render(&ctx, &env).expect("renders").text;
    let b = theirs.render(&jctx).expect("renders");
    assert_eq!(a, b, "both engines render the same text");

    let mut g = c.benchmark_group("compile");
    g.bench_function("saker", |b| {
        b.iter(|| Template::compile(black_box(TEMPLATE)))
    });
    g.bench_function("minijinja", |b| {
        b.iter(|| jinja.template_from_str(black_box(TEMPLATE)).map(|_| ()))
    });
    g.finish();

    let mut g = c.benchmark_group("render");
    g.bench_function("saker", |b| b.iter(|| ours.render(black_box(&ctx), &env)));
    g.bench_function("saker_tainted", |b| {
        b.iter(|| ours.render(black_box(&tainted), &env))
    });
    g.bench_function("minijinja", |b| b.iter(|| theirs.render(black_box(&jctx))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
