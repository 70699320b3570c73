//! The taint table: every filter, operator, function, test and statement keeps a value derived
//! from a secret tainted. Each row renders a template and states what the output looks like
//! once tainted text is replaced by `*` (by default: all of it).
//!
//! `row_coverage` fails when a filter, function or test is added without a row here.

mod common;

use common::{Secrets, env_with};
use saker_expr::{Context, ErrorKind, Limits, RenderEnv, Template, known_names};

fn secrets() -> Secrets {
    Secrets::new([
        ("S", "Hunter2 pw"),
        ("J", r#"{"token":"tok","list":[3,1,2],"nested":{"a":1}}"#),
        ("L", "[3,1,[4,5]]"),
        ("N", "42"),
        ("D", "2026-11-22T10:15:30Z"),
        ("B64", "aHVudGVy"),
        ("URL", "a+b%26c"),
        ("T", "{{ 40 + 2 }}"),
        ("F", "yyyy"),
        ("Q", ".a"),
        ("EMPTY", ""),
    ])
}

/// (template, masked output; "*" means the whole output is tainted).
const ROWS: &[(&str, &str)] = &[
    // String filters.
    ("{{ secret('S') | upper }}", "*"),
    ("{{ secret('S') | lower }}", "*"),
    ("{{ secret('S') | capitalize }}", "*"),
    ("{{ secret('S') | title }}", "*"),
    ("{{ secret('S') | trim }}", "*"),
    ("{{ secret('S') | abbreviate(5) }}", "*"),
    ("{{ secret('S') | replace({'H': 'h'}) }}", "*"),
    ("{{ 'abc' | replace({'a': secret('S')}) }}", "*"),
    ("{{ secret('S') | split(' ') }}", "*"),
    ("{{ secret('S') | startsWith('H') }}", "*"),
    ("{{ secret('S') | endsWith('w') }}", "*"),
    ("{{ secret('S') | substringBefore(' ') }}", "*"),
    ("{{ secret('S') | substringAfter(' ') }}", "*"),
    ("{{ secret('S') | substringBeforeLast(' ') }}", "*"),
    ("{{ secret('S') | substringAfterLast(' ') }}", "*"),
    ("{{ secret('S') | escapeChar('shell') }}", "*"),
    ("{{ secret('S') | slugify }}", "*"),
    ("{{ secret('S') | indent(2) }}", "*"),
    ("{{ secret('S') | nindent(2) }}", "*"),
    ("{{ secret('S') | string }}", "*"),
    // Collection filters.
    ("{{ secret('S') | default('x') }}", "*"),
    ("{{ secret('EMPTY') | default('was empty') }}", "*"),
    ("{{ '' | default(secret('S')) }}", "*"),
    ("{{ secret('S') | length }}", "*"),
    ("{{ json(secret('L')) | length }}", "*"),
    ("{{ secret('S') | first }}", "*"),
    ("{{ json(secret('L')) | last }}", "*"),
    ("{{ json(secret('L')) | join(',') }}", "*"),
    ("{{ ['a', secret('S')] | join(',') }}", "*"),
    ("{{ secret('S') | slice(0, 2) }}", "*"),
    ("{{ secret('S') | reverse }}", "*"),
    // Sorting places the clean elements according to the secret one.
    ("{{ [2, secret('N') | number, 1] | sort }}", "*"),
    ("{{ json(secret('L')) | slice(0, 2) | rsort }}", "*"),
    ("{{ json(secret('J')) | keys }}", "*"),
    ("{{ json(secret('J')) | values }}", "*"),
    ("{{ json(secret('L')) | merge([9]) }}", "*"),
    ("{{ [9] | merge([secret('S')]) }}", "[9,*]"),
    ("{{ json(secret('L')) | distinct }}", "*"),
    ("{{ json(secret('L')) | flatten }}", "*"),
    ("{{ json(secret('L')) | chunk(2) }}", "*"),
    // Numbers.
    ("{{ secret('N') | number }}", "*"),
    ("{{ -(secret('N') | number) | abs }}", "*"),
    ("{{ secret('N') | number | round(1) }}", "*"),
    // Encodings and digests.
    ("{{ secret('S') | base64encode }}", "*"),
    ("{{ secret('B64') | base64decode }}", "*"),
    ("{{ secret('S') | urlencode }}", "*"),
    ("{{ secret('URL') | urldecode }}", "*"),
    ("{{ secret('S') | sha1 }}", "*"),
    ("{{ secret('S') | sha256 }}", "*"),
    ("{{ secret('S') | sha512 }}", "*"),
    ("{{ secret('S') | md5 }}", "*"),
    // JSON and jq.
    ("{{ secret('S') | toJson }}", "*"),
    ("{{ secret('S') | json }}", "*"),
    ("{{ secret('S') | jsonEncode }}", "*"),
    ("{{ secret('J') | jq('.token') }}", "*"),
    ("{{ secret('J') | jq('.list | length') | first }}", "*"),
    ("{{ '{\"a\":1}' | jq(secret('Q')) }}", "*"),
    // Dates.
    ("{{ secret('D') | date('yyyy') }}", "*"),
    ("{{ '2026-01-01' | date(secret('F')) }}", "*"),
    ("{{ secret('D') | dateAdd(1, 'DAYS') }}", "*"),
    ("{{ secret('D') | timestamp }}", "*"),
    ("{{ secret('D') | timestampMilli }}", "*"),
    ("{{ secret('D') | timestampMicro }}", "*"),
    ("{{ secret('D') | timestampNano }}", "*"),
    // Operators.
    ("{{ (secret('N') | number) + 1 }}", "*"),
    ("{{ 1 + (secret('N') | number) }}", "*"),
    ("{{ secret('S') + '!' }}", "*"),
    ("{{ (secret('N') | number) - 1 }}", "*"),
    ("{{ (secret('N') | number) * 2 }}", "*"),
    ("{{ (secret('N') | number) / 2 }}", "*"),
    ("{{ (secret('N') | number) % 5 }}", "*"),
    ("{{ -(secret('N') | number) }}", "*"),
    ("{{ +(secret('N') | number) }}", "*"),
    ("{{ 'Bearer ' ~ secret('S') }}", "*"),
    ("{{ secret('S') == 'x' }}", "*"),
    ("{{ secret('S') != 'x' }}", "*"),
    ("{{ secret('S') < 'x' }}", "*"),
    ("{{ secret('S') > 'x' }}", "*"),
    ("{{ secret('S') <= 'x' }}", "*"),
    ("{{ secret('S') >= 'x' }}", "*"),
    ("{{ secret('S') == secret('S') and true }}", "*"),
    ("{{ true and secret('S') == 'x' }}", "*"),
    ("{{ secret('S') == 'x' or false }}", "*"),
    ("{{ not (secret('S') == 'x') }}", "*"),
    ("{{ secret('S') contains 'pw' }}", "*"),
    ("{{ 'pw' in secret('S') }}", "*"),
    ("{{ 'zz' not in secret('S') }}", "*"),
    ("{{ 1..(secret('N') | number) | length }}", "*"),
    ("{{ secret('S') == 'x' ? 'a' : 'b' }}", "*"),
    ("{{ true ? secret('S') : 'b' }}", "*"),
    ("{{ missing ?? secret('S') }}", "*"),
    ("{{ missing ??? secret('S') }}", "*"),
    ("{{ json(secret('J')).token }}", "*"),
    ("{{ json(secret('J'))['nested']['a'] }}", "*"),
    ("{{ {'Hunter2 pw': 'v'}[secret('S')] }}", "*"),
    ("{{ [1, 2, 3][(secret('N') | number) - 41] }}", "*"),
    ("{{ \"pw: #{secret('S')}\" }}", "*"),
    // Literals keep clean parts clean.
    ("{{ [secret('S'), 'clean'] }}", "[*,\"clean\"]"),
    (
        "{{ {'pw': secret('S'), 'user': 'bob'} }}",
        "{\"pw\":*,\"user\":\"bob\"}",
    ),
    ("{{ {secret('S'): 1} }}", "*"),
    // Functions.
    ("{{ secret('S') }}", "*"),
    ("{{ fromJson(secret('J')).token }}", "*"),
    ("{{ json(secret('J')).list }}", "*"),
    ("{{ jsonDecode(secret('J')).nested }}", "*"),
    ("{{ range(1, secret('N') | number) | length }}", "*"),
    ("{{ render(secret('T')) }}", "*"),
    ("{{ renderOnce(secret('T')) }}", "*"),
    ("{{ render('x{{ secret(\"S\") }}') }}", "*"),
    ("{{ max(1, secret('N') | number) }}", "*"),
    // A KV read chosen by a secret (the value itself is plain here; a sealed one comes back
    // tainted, see kv.rs).
    ("{{ kv('N', namespace=secret('S')) }}", "*"),
    ("{{ min(100, secret('N') | number) }}", "*"),
    ("{{ now(format=secret('F')) }}", "*"),
    ("{{ read(secret('S')) }}", "*"),
    ("{{ read('a.txt', namespace=secret('S')) }}", "*"),
    ("{{ fileExists(secret('S')) }}", "*"),
    ("{{ fileSize(secret('S')) }}", "*"),
    ("{{ isFileEmpty(secret('S')) }}", "*"),
    // The log's lines were masked before they were stored: plain text, not tainted again.
    (
        "{{ (errorLogs() | first).message }} {{ secret('S') }}",
        "failed with **** *",
    ),
    // Tests.
    ("{{ secret('S') is defined }}", "*"),
    ("{{ secret('S') is null }}", "*"),
    ("{{ secret('S') is not empty }}", "*"),
    ("{{ secret('N') | number is even }}", "*"),
    ("{{ secret('N') | number is odd }}", "*"),
    ("{{ json(secret('J')) is iterable }}", "*"),
    ("{{ json(secret('J')) is map }}", "*"),
    ("{{ secret('J') is json }}", "*"),
    // Methods.
    ("{{ secret('S').toUpperCase() }}", "*"),
    ("{{ secret('S').substring(0, 3) }}", "*"),
    ("{{ json(secret('J')).get('token') }}", "*"),
    // Statements.
    ("{% set x = secret('S') %}[{{ x }}]", "[*]"),
    // A loop over a secret list runs a secret number of times: all it prints is tainted.
    ("{% for c in json(secret('L')) %}{{ c }};{% endfor %}", "*"),
    (
        "{% for k, v in json(secret('J')) %}{{ k }} {% endfor %}",
        "*",
    ),
    (
        "{% for x in json(secret('L')) %}{{ loop.index }} {% endfor %}",
        "*",
    ),
    ("[{% for x in json(secret('L')) %}x{% endfor %}]", "[*]"),
    (
        "[{% for x in json(secret('L')) %}{{ loop.first }}{{ loop.last }}{% endfor %}]",
        "[*]",
    ),
    (
        "[{% for x in json(secret('L')) | slice(0, 0) %}x{% else %}none{% endfor %}]",
        "[*]",
    ),
    (
        "[{% for i in range(1, secret('N') | number) %}.{% endfor %}]",
        "[*]",
    ),
    (
        "[{% for i in 1..(secret('S') | length) %}.{% endfor %}]",
        "[*]",
    ),
    // Implicit flows: what is printed or set because of a secret condition is tainted, even
    // when it is nothing.
    ("[{% if secret('S') == 'x' %}yes{% endif %}]", "[*]"),
    ("[{% if secret('S') != 'x' %}yes{% endif %}]", "[*]"),
    (
        "[{% if secret('S') == 'x' %}a{% elseif true %}b{% else %}c{% endif %}]",
        "[*]",
    ),
    (
        "[{% if false %}a{% elseif secret('S') == 'x' %}b{% else %}c{% endif %}]",
        "[*]",
    ),
    (
        "[{% if true %}a{% elseif secret('S') == 'x' %}b{% endif %}]",
        "[a]",
    ),
    ("{% if secret('S') | length > 3 %}long{% endif %}", "*"),
    (
        "{% for c in secret('S') | lower | split('') %}{% for a in 'abcdefghijklmnopqrstuvwxyz' | split('') %}{% if c == a %}{{ a }}{% endif %}{% endfor %}.{% endfor %}",
        "*",
    ),
    (
        "{% for c in ['h', 'x'] %}{% if c in secret('S') | lower %}{{ c }}{% endif %};{% endfor %}",
        "*;*;",
    ),
    (
        "{% if secret('S') == 'x' %}{% set v = 'b' %}{% endif %}[{{ v }}]",
        "*[*]",
    ),
    (
        "{% set v = 'a' %}{% if secret('S') == 'x' %}{% set v = 'b' %}{% endif %}[{{ v }}]",
        "*[*]",
    ),
    (
        "{% set v = 'a' %}{% if secret('S') != 'x' %}{% set v = 'b' %}{% endif %}[{{ v }}]",
        "*[*]",
    ),
    (
        "{% set v = 'a' %}{% if secret('S') == 'x' %}{% if true %}{% set v = 'b' %}{% endif %}{% endif %}[{{ v }}]",
        "*[*]",
    ),
    (
        "{% set n = 0 %}{% for c in json(secret('L')) %}{% set n = n + 1 %}{% endfor %}[{{ n }}]",
        "*[0]",
    ),
    ("[{{ secret('EMPTY') }}]", "[*]"),
    ("{{ json(secret('J')).missing ?? 'd' }}", "*"),
    ("{{ json(secret('J')).nested.b ?? 'd' }}", "*"),
    ("{{ json(secret('J')).missing | default('d') }}", "*"),
    ("{{ json(secret('J')).missing is defined }}", "*"),
    ("{{ {'Hunter2 pw': 1}[secret('S')] ?? 'd' }}", "*"),
    ("{{ secret('S') == 'x' or true }}", "*"),
    // A value missing in the branch a secret chose is still "missing" for `??` and `default`.
    ("{{ (secret('S') != 'x' ? missing : 1) ?? 'd' }}", "*"),
    (
        "{{ (secret('S') != 'x' ? missing : 1) | default('d') }}",
        "*",
    ),
    ("{{ (secret('S') != 'x' ? missing : 1) is defined }}", "*"),
    ("{{ ['a', secret('S'), 'a'] | distinct }}", "*"),
    ("{{ [[1], json(secret('L'))] | flatten }}", "*"),
    ("{{ [1, secret('S')] | length }}", "2"),
    ("{{ range(0, secret('S') | length) | length }}", "*"),
    ("{{ secret('S').startsWith('H') }}", "*"),
    ("{{ ['a', 'b'].contains(secret('S')) }}", "*"),
    (
        "{{ render('{% if secret(\"S\") == \"x\" %}a{% else %}b{% endif %}') }}",
        "*",
    ),
];

/// A file reader whose every file holds its own path: a file named after a secret reads
/// back as the secret.
struct EchoFiles;

impl saker_expr::FileReader for EchoFiles {
    fn read(
        &self,
        path: &str,
        _: Option<&str>,
    ) -> Result<saker_expr::FileText, saker_expr::FileLookupError> {
        Ok(saker_expr::FileText {
            text: path.into(),
            secret: false,
        })
    }

    fn size(
        &self,
        path: &str,
        _: Option<&str>,
    ) -> Result<Option<saker_expr::FileSize>, saker_expr::FileLookupError> {
        Ok(Some(saker_expr::FileSize {
            bytes: path.len() as u64,
            secret: false,
        }))
    }
}

/// A log of one ERROR line, stored masked as the engine stores it.
struct MaskedLog;

impl saker_expr::ErrorLogReader for MaskedLog {
    fn error_logs(&self) -> Result<Vec<saker_expr::ErrorLogLine>, saker_expr::ErrorLogLookupError> {
        Ok(vec![saker_expr::ErrorLogLine {
            tenant_id: "main".into(),
            namespace: "company.team".into(),
            flow_id: "flow".into(),
            execution_id: "exec".into(),
            task_id: Some("t".into()),
            task_run_id: Some("run".into()),
            attempt_number: Some(1),
            timestamp: chrono::Utc::now(),
            level: "ERROR".into(),
            message: "failed with ****".into(),
        }])
    }
}

fn render(template: &str) -> saker_expr::Rendered {
    let resolver = secrets();
    let env = RenderEnv {
        files: Some(&EchoFiles),
        error_logs: Some(&MaskedLog),
        ..env_with(&resolver)
    };
    let t = Template::compile(template).unwrap_or_else(|e| panic!("{template}: {e}"));
    t.render(&Context::new(), &env)
        .unwrap_or_else(|e| panic!("{template}: {e}"))
}

#[test]
fn every_row_is_tainted_as_stated() {
    let mut failures = Vec::new();
    for (template, want) in ROWS {
        let r = render(template);
        let masked = r.masked("*");
        if r.text.is_empty() || masked != *want {
            failures.push(format!(
                "{template}: rendered {:?}, masked {masked:?}, expected {want:?}",
                r.text
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An error raised where a secret chose what to evaluate, or because of a missing secret key,
/// says only that it failed, at the position of the choice.
#[test]
fn errors_that_depend_on_a_secret_say_only_that_they_failed() {
    let resolver = secrets();
    let env = env_with(&resolver);
    // (template, where the error points: the choice made on the secret)
    for (template, at) in [
        ("{{ secret('S') == 'a' ? 1 : (1 / 0) }}", "? 1"),
        ("{{ secret('S') == 'Hunter2 pw' ? (1 / 0) : 1 }}", "? ("),
        (
            "{% if secret('S') == 'x' %}{% else %}{{ 1 / 0 }}{% endif %}",
            "secret",
        ),
        (
            "{% if secret('S') == 'x' %}{% else %}{{ nope.x }}{% endif %}",
            "secret",
        ),
        (
            "{% for c in json(secret('L')) %}{{ c.x }}{% endfor %}",
            "json",
        ),
        ("{{ secret('EMPTY') | default(1 / 0) }}", "default"),
        ("{{ (secret('S') == 'x') or (1 / 0) }}", "or"),
        ("{{ json(secret('J')).missing ?? (1 / 0) }}", "??"),
        ("{{ secret('S') != 'x' ? missing : 1 }}", "? m"),
        ("{{ json(secret('J')).missing }}", "missing"),
    ] {
        let e = Template::compile(template)
            .unwrap()
            .render(&Context::new(), &env)
            .expect_err(template);
        assert_eq!(e.kind, ErrorKind::SecretDependent, "{template}: {e}");
        let column = template.find(at).map(|i| i as u32 + 1);
        assert_eq!((e.line, Some(e.column)), (1, column), "{template}: {e}");
    }
    // Resource limits keep their message: it names no value.
    let small = RenderEnv {
        limits: Limits {
            max_iterations: 2,
            ..Limits::default()
        },
        ..env_with(&resolver)
    };
    let e = Template::compile("{% for c in json(secret('L')) %}{% endfor %}")
        .unwrap()
        .render(&Context::new(), &small)
        .expect_err("three iterations");
    assert!(matches!(e.kind, ErrorKind::Limit(_)), "{e}");
}

#[test]
fn row_coverage() {
    let (filters, functions, tests) = known_names();
    let all: String = ROWS.iter().map(|(t, _)| *t).collect::<Vec<_>>().join("\n");
    let mut missing: Vec<String> = Vec::new();
    for f in filters {
        if !all.contains(&format!("| {f}")) {
            missing.push(format!("filter {f}"));
        }
    }
    for f in functions {
        let probe = Template::compile(&format!("{{{{ {f}('x') }}}}"))
            .and_then(|t| t.render(&Context::new(), &RenderEnv::default()));
        let not_yet = matches!(&probe, Err(e) if e.to_string().contains("not yet available"));
        if !not_yet && !all.contains(&format!("{f}(")) {
            missing.push(format!("function {f}"));
        }
    }
    for t in tests {
        if !all.contains(&format!("is {t}")) && !all.contains(&format!("is not {t}")) {
            missing.push(format!("test {t}"));
        }
    }
    for op in [
        " + ",
        " - ",
        " * ",
        " / ",
        " % ",
        " ~ ",
        " == ",
        " != ",
        " < ",
        " > ",
        " <= ",
        " >= ",
        " and ",
        " or ",
        "not ",
        " contains ",
        " in ",
        " not in ",
        "..",
        " ? ",
        " ?? ",
        " ??? ",
        "{{ -",
        "{{ +",
        "[",
        "#{",
        "{% set",
        "{% for",
    ] {
        if !all.contains(op) {
            missing.push(format!("operator {op:?}"));
        }
    }
    assert!(
        missing.is_empty(),
        "no taint row for: {}",
        missing.join(", ")
    );
}

#[test]
fn tainted_strings_hold_secrets_and_what_was_derived_from_them() {
    let r = render("{{ secret('J') | jq('.token') | first | upper }}");
    assert_eq!(r.text, "TOK");
    assert!(
        r.tainted_strings
            .iter()
            .any(|s| s == r#"{"token":"tok","list":[3,1,2],"nested":{"a":1}}"#)
    );
    assert!(r.tainted_strings.iter().any(|s| s == "tok"));
    assert!(r.tainted_strings.iter().any(|s| s == "TOK"));
    // A secret used only in a condition is still reported, though nothing of it is printed.
    let r = render("{% if secret('S') | length > 3 %}long{% endif %}");
    assert_eq!(r.text, "long");
    assert!(r.tainted_strings.iter().any(|s| s == "Hunter2 pw"));
}

#[test]
fn tainted_strings_skip_short_derived_values_but_not_secrets() {
    let r = render("{{ secret('S') | length }} {{ secret('S') | first }}");
    assert_eq!(r.masked("*"), "* *");
    assert_eq!(r.tainted_strings, vec!["Hunter2 pw".to_string()]);
    let r = render("{{ {'user': 'bob', 'secret': json(secret('J')).token} }}");
    assert_eq!(r.masked("*"), r#"{"user":"bob","secret":*}"#);
    assert!(
        r.tainted_strings.iter().any(|s| s == "tok"),
        "{:?}",
        r.tainted_strings.len()
    );
    assert!(r.tainted_strings.iter().any(|s| s == "\"tok\""));
}

#[test]
fn clean_renders_report_nothing() {
    let r = render("{{ 'a' | upper }} {{ [1, 2] | join(',') }} {{ now() | date('yyyy') }}");
    assert!(!r.is_tainted());
    assert!(r.tainted_strings.is_empty());
}
