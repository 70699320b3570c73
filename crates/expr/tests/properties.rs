//! Properties over generated templates: compiling and rendering never panic, and a secret
//! never shows outside the tainted ranges, in an error message, or in `Debug` output.

mod common;

use common::{Secrets, env_with};
use proptest::prelude::*;
use saker_expr::{Context, Limits, RenderEnv, Template, Value};

const SECRET: &str = "Qx7-Sekr1t-Vw";

fn resolver() -> Secrets {
    Secrets::new([
        ("S", SECRET.to_string()),
        ("J", format!(r#"{{"token": "{SECRET}", "list": [1, 2]}}"#)),
    ])
}

fn context() -> Context {
    let mut ctx = Context::new();
    ctx.insert(
        "inputs",
        Value::map([
            ("day", Value::from("monday")),
            ("n", Value::from(3)),
            ("list", Value::list([Value::from(1), Value::from("b")])),
            ("empty", Value::map::<String>([])),
        ]),
    );
    ctx.insert("pw", Value::secret(SECRET));
    ctx
}

fn small_limits() -> Limits {
    Limits {
        max_output_bytes: 64 * 1024,
        max_iterations: 10_000,
        max_range: 1_000,
        max_render_depth: 3,
        max_steps: 2_000_000,
        max_value_bytes: 16 * 1024 * 1024,
    }
}

fn check(template: &str) -> Result<(), TestCaseError> {
    let r = resolver();
    let env = RenderEnv {
        limits: small_limits(),
        ..env_with(&r)
    };
    let result = Template::compile(template).and_then(|t| t.render(&context(), &env));
    match result {
        Ok(out) => {
            let masked = out.masked("*");
            prop_assert!(
                !masked.contains(SECRET),
                "secret outside tainted ranges: {masked:?}"
            );
            let dbg = format!("{out:?}");
            prop_assert!(!dbg.contains(SECRET), "secret in Debug: {}", dbg);
            for r in &out.tainted {
                prop_assert!(
                    out.text.is_char_boundary(r.start) && out.text.is_char_boundary(r.end)
                );
            }
        }
        Err(e) => {
            let shown = format!("{e} {e:?}");
            prop_assert!(!shown.contains(SECRET), "secret in error: {shown}");
        }
    }
    Ok(())
}

/// Pieces of template syntax, glued at random.
fn syntax_soup() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "{{",
        "}}",
        "{%",
        "%}",
        "{#",
        "#}",
        "-",
        "|",
        "'",
        "\"",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "if",
        "for",
        "x",
        "in",
        "endif",
        "endfor",
        "else",
        "raw",
        "endraw",
        "set",
        "=",
        ".",
        ",",
        ":",
        "?",
        "??",
        "???",
        "..",
        "+",
        "*",
        "/",
        "%",
        "~",
        "1",
        "0",
        "2.5",
        "upper",
        "jq",
        "secret('S')",
        "render",
        "not",
        "and",
        "is",
        "defined",
        " ",
        "\n",
        "#{",
        "\\",
        "inputs",
        "pw",
        "loop",
        "null",
        "true",
        "default",
        "date",
        "length",
        "json",
        "é",
        "🦀",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

fn leaf() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "1",
        "0",
        "-3",
        "2.5",
        "'a b'",
        "'2026-11-22'",
        "null",
        "true",
        "inputs.day",
        "inputs.n",
        "inputs.list",
        "inputs.empty",
        "inputs.missing",
        "pw",
        "secret('S')",
        "secret('J')",
        "json(secret('J'))",
        "[1, 'x']",
        "{'k': pw}",
        "now()",
        "'{\"a\": 1}'",
    ])
    .prop_map(String::from)
}

/// Well-formed expressions built from leaves with operators, filters and functions.
fn expression() -> impl Strategy<Value = String> {
    leaf().prop_recursive(4, 48, 3, |inner| {
        let filters = prop::sample::select(vec![
            "upper",
            "lower",
            "trim",
            "length",
            "first",
            "last",
            "reverse",
            "sort",
            "keys",
            "values",
            "base64encode",
            "base64decode",
            "urlencode",
            "urldecode",
            "sha256",
            "md5",
            "toJson",
            "jq('.token')",
            "jq('.[0]')",
            "default('d')",
            "split('-')",
            "slice(1, 3)",
            "join(',')",
            "abbreviate(5)",
            "replace({'S': 's'})",
            "number",
            "abs",
            "round(1)",
            "date('yyyy')",
            "dateAdd(1, 'DAYS')",
            "substringAfter('-')",
            "escapeChar('shell')",
            "string",
            "distinct",
            "title",
            "capitalize",
            "startsWith('Q')",
            "timestamp",
            "slugify",
        ]);
        let ops = prop::sample::select(vec![
            "+", "-", "*", "/", "%", "~", "==", "!=", "<", ">=", "and", "or", "contains", "in",
            "??", "???", "..",
        ]);
        prop_oneof![
            (inner.clone(), filters).prop_map(|(e, f)| format!("{e} | {f}")),
            (inner.clone(), ops, inner.clone()).prop_map(|(a, o, b)| format!("({a} {o} {b})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
            inner.clone().prop_map(|e| format!("not ({e})")),
            inner.clone().prop_map(|e| format!("({e}).token")),
            (inner.clone(), inner.clone()).prop_map(|(a, i)| format!("({a})[{i}]")),
            inner.clone().prop_map(|e| format!("fromJson({e})")),
            inner.clone().prop_map(|e| format!("render({e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("max({a}, {b})")),
            inner.clone().prop_map(|e| format!("[{e}, 'c']")),
            inner.clone().prop_map(|e| format!("{{'k': {e}}}")),
            inner.clone().prop_map(|e| format!("({e}) is defined")),
            inner.prop_map(|e| format!("\"x #{{{e}}}\"")),
        ]
    })
}

fn template() -> impl Strategy<Value = String> {
    (
        expression(),
        expression(),
        prop::sample::select(vec![0usize, 1, 2, 3]),
    )
        .prop_map(|(a, b, shape)| match shape {
            0 => format!("v={{{{ {a} }}}}"),
            1 => format!("{{% if {a} %}}[{{{{ {b} }}}}]{{% else %}}no{{% endif %}}"),
            2 => format!("{{% for x in {a} %}}{{{{ x }}}}-{{{{ {b} }}}};{{% endfor %}}"),
            _ => format!("{{% set y = {a} %}}{{{{ y }}}} {{{{ {b} }}}}"),
        })
}

/// jq programs glued from jq syntax, run on a small document.
fn jq_soup() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        ".",
        ".a",
        ".[]",
        "[",
        "]",
        "{",
        "}",
        "|",
        ",",
        "(",
        ")",
        "1",
        "-1",
        "\"s\"",
        "map(",
        "select(",
        "keys",
        "length",
        "add",
        "+",
        "-",
        "*",
        "/",
        "%",
        "==",
        "and",
        "or",
        "not",
        "if",
        "then",
        "else",
        "end",
        "reduce",
        "as",
        "$x",
        "foreach",
        "limit(",
        "first(",
        "range(",
        ";",
        "tostring",
        "tonumber",
        "test(",
        "split(",
        "join(",
        "ascii_downcase",
        "to_entries",
        "from_entries",
        "sort_by(",
        "group_by(",
        "@base64",
        "@uri",
        "@json",
        "fromjson",
        "try",
        "catch",
        "error",
        "?",
        "//",
        "..",
        "paths",
        "getpath(",
        "splits(",
        "sub(",
        "ltrimstr(",
        "implode",
        "explode",
        "input",
        "$__loc__",
        "env",
        "strftime(",
        "mktime",
        "gmtime",
        "todate",
        "now",
        "halt",
        "halt_error",
        "debug",
        "stderr",
        " ",
    ]);
    prop::collection::vec(pieces, 1..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn jq_programs_never_panic(p in jq_soup()) {
        let program = p.replace('\'', "\\'");
        check(&format!("{{{{ '{{\"a\": [1, \"x\", {{\"b\": null}}], \"s\": \"Qx\"}}' | jq('{program}') }}}}"))?;
        check(&format!("{{{{ secret('J') | jq('{program}') }}}}"))?;
    }

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        check(&s)?;
    }

    #[test]
    fn syntax_soup_never_panics(s in syntax_soup()) {
        check(&s)?;
    }

    #[test]
    fn generated_templates_keep_secrets_masked(t in template()) {
        check(&t)?;
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for src in [
        format!("{{{{ {}1{} }}}}", "(".repeat(10_000), ")".repeat(10_000)),
        format!("{{{{ {}1 }}}}", "-".repeat(100_000)),
        format!("{{{{ {}1 }}}}", "not ".repeat(50_000)),
        format!("{{{{ 1{} }}}}", " | abs".repeat(50_000)),
        format!("{{{{ 1{} }}}}", " + 1".repeat(50_000)),
        format!("{{{{ x{} }}}}", ".a".repeat(50_000)),
        "{% if true %}".repeat(10_000),
        format!("{{{{ {}1{} }}}}", "[".repeat(10_000), "]".repeat(10_000)),
    ] {
        assert!(Template::compile(&src).is_err(), "{}…", &src[..40]);
    }
}

#[test]
fn limits_stop_runaway_templates() {
    let env = RenderEnv {
        limits: small_limits(),
        ..RenderEnv::default()
    };
    for src in [
        "{% for i in range(1, 999) %}{% for j in range(1, 999) %}{% endfor %}{% endfor %}",
        "{% for i in range(1, 900) %}{{ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' | nindent(1024) }}{% endfor %}",
        "{{ range(1, 1000000) }}",
        "{{ render(me) }}",
    ] {
        let mut ctx = Context::new();
        ctx.insert("me", Value::from("again: {{ render(me) }}"));
        let r = Template::compile(src).and_then(|t| t.render(&ctx, &env));
        assert!(r.is_err(), "{src} rendered");
    }
}
