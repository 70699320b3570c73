//! Non-interference over generated templates: rendered with two different secrets of the
//! same length (and the same clean context), a template must give the same masked text, or
//! fail the same way; anything that differs derives from the secret and must be inside a
//! tainted range. When the runs end differently, one of them must have stopped on a secret
//! (an error that says only that, one bit per render, see `flow.rs`) or on a resource limit.

mod common;

use common::{Secrets, env_with};
use proptest::prelude::*;
use saker_expr::{Context, ErrorKind, Limits, RenderEnv, Template, Value};

/// Short secrets over a small alphabet, so that generated comparisons often hold in one run
/// and not in the other.
fn secret() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!['a', 'b', 'c']), 1..5)
        .prop_map(|cs| cs.into_iter().collect())
}

fn secret_pair() -> impl Strategy<Value = (String, String)> {
    secret().prop_flat_map(|a| {
        let len = a.chars().count();
        let b = prop::collection::vec(prop::sample::select(vec!['a', 'b', 'c']), len)
            .prop_map(|cs| cs.into_iter().collect::<String>());
        (Just(a), b)
    })
}

fn leaf() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "pw",
        "secret('S')",
        "'a'",
        "'b'",
        "'abc'",
        "''",
        "k",
        "c",
        "v",
        "1",
        "n",
        "xs",
        "null",
    ])
    .prop_map(String::from)
}

fn expression() -> impl Strategy<Value = String> {
    leaf().prop_recursive(3, 24, 3, |inner| {
        let filters = prop::sample::select(vec![
            "upper",
            "reverse",
            "split('')",
            "slice(0, 2)",
            "replace({'a': 'bb'})",
            "length",
            "default('d')",
            "jq('.')",
            "jq('ascii_upcase? // length')",
            "first",
            "join(',')",
            "sort",
            "distinct",
            "startsWith('a')",
        ]);
        let ops = prop::sample::select(vec![
            "~", "==", "!=", "<", "contains", "in", "??", "and", "or", "+",
        ]);
        prop_oneof![
            (inner.clone(), filters).prop_map(|(e, f)| format!("({e} | {f})")),
            (inner.clone(), ops, inner.clone()).prop_map(|(a, o, b)| format!("({a} {o} {b})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
            inner.clone().prop_map(|e| format!("({e} is empty)")),
            inner.clone().prop_map(|e| format!("({e} is defined)")),
            (inner.clone(), inner.clone()).prop_map(|(a, i)| format!("({a})[{i}]")),
            inner.clone().prop_map(|e| format!("[{e}, 'x']")),
            inner.clone().prop_map(|e| format!("render({e})")),
            inner
                .clone()
                .prop_map(|e| format!("range(0, ({e} | length))")),
            inner
                .clone()
                .prop_map(|e| format!("{{'a': 1, 'ab': 2}}[{e}]")),
            inner.clone().prop_map(|e| format!("({e}).startsWith('a')")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("max({a}, {b})")),
        ]
    })
}

/// Statements: text, prints, sets, ifs (with elseif and else) and loops, nested.
fn statements() -> impl Strategy<Value = String> {
    let simple = prop_oneof![
        prop::sample::select(vec!["-", ".", "x"]).prop_map(String::from),
        expression().prop_map(|e| format!("{{{{ {e} }}}}")),
        expression().prop_map(|e| format!("{{% set v = {e} %}}")),
    ];
    let block = simple.prop_recursive(3, 16, 3, |inner| {
        let body = prop::collection::vec(inner, 0..3).prop_map(|v| v.concat());
        prop_oneof![
            (expression(), body.clone(), body.clone())
                .prop_map(|(c, a, b)| format!("{{% if {c} %}}{a}{{% else %}}{b}{{% endif %}}")),
            (expression(), body.clone(), expression(), body.clone()).prop_map(|(c, a, d, b)| {
                format!("{{% if {c} %}}{a}{{% elseif {d} %}}{b}{{% endif %}}")
            }),
            (expression(), body.clone(), body.clone()).prop_map(|(l, a, b)| {
                format!("{{% for c in {l} %}}{a}{{{{ loop.index }}}}{{% else %}}{b}{{% endfor %}}")
            }),
            (expression(), body).prop_map(|(e, b)| {
                format!("{{% for c in {e} | split('') %}}{b}{{% endfor %}}")
            }),
        ]
    });
    prop::collection::vec(block, 1..4).prop_map(|v| v.concat())
}

fn render(template: &str, secret: &str) -> Result<String, saker_expr::ExprError> {
    let resolver = Secrets::new([("S", secret)]);
    let env = RenderEnv {
        limits: Limits {
            max_output_bytes: 64 * 1024,
            max_iterations: 10_000,
            max_range: 1_000,
            ..Limits::default()
        },
        ..env_with(&resolver)
    };
    let mut ctx = Context::new();
    ctx.insert("pw", Value::secret(secret));
    ctx.insert("k", Value::from("abc"));
    ctx.insert("n", Value::from(2));
    ctx.insert("xs", Value::list([Value::from("a"), Value::from("b")]));
    Template::compile(template)?
        .render(&ctx, &env)
        .map(|r| r.masked("\u{0}"))
}

/// What an error seen in one run only may be.
fn may_differ(e: &saker_expr::ExprError) -> bool {
    e.kind == ErrorKind::SecretDependent || e.kind.is_resource_limit()
}

fn check(template: &str, a: &str, b: &str) -> Result<(), TestCaseError> {
    match (render(template, a), render(template, b)) {
        (Ok(x), Ok(y)) => prop_assert_eq!(x, y, "{}\nsecrets {:?} / {:?}", template, a, b),
        (Err(x), Err(y)) if x == y => {}
        // Once one run stopped on a secret, what the other did is that one bit.
        (x, y) => {
            let hidden = [&x, &y]
                .into_iter()
                .filter_map(|r| r.as_ref().err())
                .any(may_differ);
            prop_assert!(hidden, "{template}\nsecrets {a:?} / {b:?}: {x:?} / {y:?}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn masked_output_does_not_depend_on_the_secret(
        t in statements(),
        (a, b) in secret_pair(),
    ) {
        check(&t, &a, &b)?;
    }
}

/// The attack that motivated the rule, spelled out: a loop that prints the secret letter by
/// letter through comparisons prints nothing readable.
#[test]
fn spelling_a_secret_out_through_conditions_is_masked() {
    let t = "{% for c in secret('S') | split('') %}{% for a in 'abc' | split('') %}\
             {% if c == a %}{{ a }}{% endif %}{% endfor %}.{% endfor %}";
    let one = render(t, "abca").expect("renders");
    assert_eq!(one, "\u{0}");
    assert_eq!(render(t, "cbab").expect("renders"), one);
}
