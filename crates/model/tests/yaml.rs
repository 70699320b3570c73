//! The spanned YAML tree: positions, scalar resolution, duplicate keys and the limits that
//! keep hostile input (alias bombs, deep nesting) from exhausting the process.

use saker_model::yaml::{Pos, YamlError, parse, parse_lenient};
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
    assert!(matches!(parse(&bomb), Err(YamlError::TooLarge { .. })));
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
    assert!(matches!(parse(&block), Err(YamlError::TooDeep { .. })));
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
fn copies_kept_for_anchors_count_towards_the_limit() {
    // Each of 120 nested anchored maps would keep its own copy of 10,000 scalars.
    let mut text = String::new();
    for level in 0..120 {
        text.push_str(&" ".repeat(level * 2));
        text.push_str(&format!("a{level}: &a{level}\n"));
    }
    text.push_str(&" ".repeat(240));
    text.push_str(&format!("leaf: [{}]\n", vec!["x"; 10_000].join(", ")));
    assert!(matches!(parse(&text), Err(YamlError::TooLarge { .. })));
}
