//! The spanned YAML tree: positions, scalar resolution, duplicate keys and the limits that
//! keep hostile input (alias bombs, deep nesting) from exhausting the process.

use saker_model::yaml::{
    Limits, MAX_ALIAS_BYTES, Pos, YamlError, parse, parse_lenient, parse_with,
};
use serde_json::json;

#[test]
fn positions_of_keys_and_values_are_one_based() {
    let node = parse("id: x\ntasks:\n  - id: t1\n    type: Log\n").unwrap();
    let tasks = node.entry("tasks").unwrap();
    assert_eq!(tasks.key_pos, Pos { line: 2, column: 1 });
    let first = &tasks.value.as_seq().unwrap()[0];
    assert_eq!(first.pos, Pos { line: 3, column: 5 });
    let ty = first.entry("type").unwrap();
    assert_eq!(ty.key_pos, Pos { line: 4, column: 5 });
    assert_eq!(
        ty.value.pos,
        Pos {
            line: 4,
            column: 11
        }
    );
}

#[test]
fn plain_scalars_follow_the_core_schema() {
    let node = parse(
        "a: 42\nb: -0x1F\nc: 1.5\nd: true\ne: ~\nf: yes\ng: '42'\nh: .inf\ni: 1e3\nj: 0o17\nk: 99999999999999999999\nl: !!str 12\nm:\n",
    )
    .unwrap();
    assert_eq!(
        node.to_json(),
        json!({"a": 42, "b": -31, "c": 1.5, "d": true, "e": null, "f": "yes", "g": "42",
               "h": ".inf", "i": 1000.0, "j": 15, "k": "99999999999999999999", "l": "12", "m": null})
    );
}

#[test]
fn text_of_a_number_is_kept() {
    let node = parse("v: 1.10\n").unwrap();
    assert_eq!(node.get("v").unwrap().as_text(), Some("1.10"));
}

#[test]
fn duplicate_keys_are_errors_with_both_lines() {
    let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
    assert_eq!(
        err,
        YamlError::DuplicateKey {
            pos: Pos { line: 3, column: 1 },
            key: "a".into(),
            first_line: 1
        }
    );
    let (node, dups) = parse_lenient("a: 1\na: 3\n").unwrap();
    assert_eq!(dups.len(), 1);
    assert_eq!(node.to_json(), json!({"a": 1}));
}

#[test]
fn syntax_errors_carry_a_position() {
    let err = parse("a: [1, 2\nb: 1\n").unwrap_err();
    assert!(
        matches!(err, YamlError::Syntax { pos, .. } if pos.line == 2),
        "{err}"
    );
}

#[test]
fn aliases_are_expanded_and_bombs_refused() {
    let node = parse("a: &x [1, 2]\nb: *x\n").unwrap();
    assert_eq!(node.to_json(), json!({"a": [1, 2], "b": [1, 2]}));
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        let items = [prev.as_str(); 10].join(", ");
        bomb.push_str(&format!("a{i}: &a{i} [{items}]\n"));
    }
    let err = parse(&bomb).unwrap_err();
    // The copy kept for the aliases of a3 (1,111 strings, some 720 KB) passes 1 MiB.
    assert_eq!(
        err,
        YamlError::AliasesTooLarge {
            pos: Pos { line: 4, column: 9 },
            limit: MAX_ALIAS_BYTES
        }
    );
    assert!(
        err.message()
            .starts_with("aliases expand to more than 1048576 bytes; "),
        "{err}"
    );
    // With the byte budget lifted, the node count still stops it.
    let nodes_only = Limits {
        max_alias_bytes: usize::MAX,
        ..Limits::default()
    };
    assert!(matches!(
        parse_with(&bomb, &nodes_only),
        Err(YamlError::TooLarge {
            limit: 1_000_000,
            ..
        })
    ));
}

#[test]
fn an_anchor_on_a_long_string_used_many_times_is_refused() {
    let long = "x".repeat(100_000);
    let uses = vec!["*s"; 5_000].join(", ");
    let text = format!("s: &s {long}\nuses: [{uses}]\n");
    // The string and the copy kept for its aliases fit; the tenth use passes 1 MiB.
    let err = parse(&text).unwrap_err();
    assert!(
        matches!(err, YamlError::AliasesTooLarge { pos, .. } if pos == Pos { line: 2, column: 44 }),
        "{err}"
    );
    // Ten thousand uses of a short string are few bytes but many nodes.
    let short = format!("s: &s x\nuses: [{}]\n", vec!["*s"; 10_000].join(", "));
    assert!(parse(&short).is_ok());
    let few_nodes = Limits {
        max_nodes: 5_000,
        ..Limits::default()
    };
    assert!(matches!(
        parse_with(&short, &few_nodes),
        Err(YamlError::TooLarge { limit: 5_000, .. })
    ));
}

#[test]
fn aliases_within_the_limits_expand_and_the_limits_are_configurable() {
    let text = "retry: &retry {type: constant, interval: PT1S, maxAttempts: 3}\n\
                a: *retry\nb: *retry\n";
    let node = parse(text).unwrap();
    assert_eq!(
        node.get("a").unwrap().to_json(),
        node.get("retry").unwrap().to_json()
    );
    assert_eq!(
        node.get("b").unwrap().to_json(),
        node.get("retry").unwrap().to_json()
    );
    assert_eq!(node.get("b").unwrap().pos, Pos { line: 3, column: 4 });
    // Three string values of 8, 4 and 1 bytes and three keys of 4, 8 and 11: one copy kept
    // and two uses, each 7 nodes of 64 bytes plus 36 bytes of text.
    let each = 7 * 64 + 36;
    let exact = Limits {
        max_alias_bytes: 3 * each,
        ..Limits::default()
    };
    assert!(parse_with(text, &exact).is_ok());
    let one_short = Limits {
        max_alias_bytes: 3 * each - 1,
        ..Limits::default()
    };
    assert_eq!(
        parse_with(text, &one_short).unwrap_err(),
        YamlError::AliasesTooLarge {
            pos: Pos { line: 3, column: 4 },
            limit: 3 * each - 1
        }
    );
    let shallow = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    assert!(
        parse_with(
            "a: {b: 1}
",
            &shallow
        )
        .is_ok()
    );
    assert!(matches!(
        parse_with(
            "a: {b: [1]}
",
            &shallow
        ),
        Err(YamlError::TooDeep { limit: 2, .. })
    ));
}

#[test]
fn deep_nesting_is_refused() {
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert!(parse(&deep).is_err());
    let mut block = String::new();
    for i in 0..200 {
        block.push_str(&" ".repeat(i));
        block.push_str("k:\n");
    }
    assert!(matches!(
        parse(&block),
        Err(YamlError::TooDeep { limit: 128, .. })
    ));
}

#[test]
fn empty_text_is_null_and_two_documents_are_refused() {
    assert!(parse("").unwrap().is_null());
    assert!(matches!(
        parse("a: 1\n---\nb: 2\n"),
        Err(YamlError::MultipleDocuments { .. })
    ));
}

#[test]
fn complex_keys_are_refused() {
    assert!(matches!(
        parse("? [x]\n: 1\n"),
        Err(YamlError::ComplexKey { .. })
    ));
}

#[test]
fn only_anchors_that_an_alias_uses_keep_a_copy_and_copies_count() {
    // 120 nested anchored maps over 10,000 scalars: copies for all would be 1.2 million
    // nodes, but no alias uses them, so none is kept.
    let mut text = String::new();
    for level in 0..120 {
        text.push_str(&" ".repeat(level * 2));
        text.push_str(&format!("a{level}: &a{level}\n"));
    }
    text.push_str(&" ".repeat(240));
    text.push_str(&format!("leaf: [{}]\n", vec!["x"; 10_000].join(", ")));
    assert!(parse(&text).is_ok());
    // Used, each anchor keeps its copy, and the copies alone pass the limits.
    let uses: Vec<String> = (0..120).map(|level| format!("*a{level}")).collect();
    text.push_str(&format!("uses: [{}]\n", uses.join(", ")));
    assert!(matches!(
        parse(&text),
        Err(YamlError::AliasesTooLarge { pos, .. }) if pos.line < 121
    ));
}
