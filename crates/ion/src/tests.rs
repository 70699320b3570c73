use serde_json::{Value, json};

use crate::{IonError, IonWriter, Limits, read_rows, read_rows_with};

fn write(rows: &[Value]) -> String {
    let mut writer = IonWriter::new(Vec::new());
    for row in rows {
        writer.write_row(row).unwrap();
    }
    String::from_utf8(writer.finish().unwrap()).unwrap()
}

fn read(text: &str) -> Vec<Value> {
    read_rows(text.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn json_rows_survive_a_round_trip_one_line_each() {
    let rows = vec![
        json!({"id": 1, "name": "Ada", "score": 12.5, "ok": true, "none": null}),
        json!({"nested": {"list": [1, "two", [3.25]], "big": 18446744073709551615u64}}),
        json!("a scalar row\nwith a newline"),
        json!(-42),
        json!({"with space": "quoted \"field\"", "": "empty name"}),
    ];
    let text = write(&rows);
    assert_eq!(text.lines().count(), rows.len(), "one row per line: {text}");
    assert_eq!(read(&text), rows);
}

#[test]
fn fractions_are_written_as_ion_floats_and_integers_as_ints() {
    let text = write(&[json!({"f": 1.5, "i": 7})]);
    let element = ion_rs::Element::read_one(text.trim()).unwrap();
    let s = element.as_struct().unwrap();
    assert_eq!(s.get("f").unwrap().ion_type(), ion_rs::IonType::Float);
    assert_eq!(s.get("i").unwrap().ion_type(), ion_rs::IonType::Int);
}

#[test]
fn ion_types_without_json_equivalent_are_mapped_as_kestra_does() {
    let rows = read(concat!(
        "{ts: 2024-01-31T10:20:30.123Z, day: 2024-01-31T, d: 12.340, big: 1.5d2, whole: 7.,",
        " sym: hello, blob: {{aGk=}}, clob: {{\"text\"}}, sexp: (a 1), ann: LocalDate::\"2024-01-31\",",
        " tnull: null.int}\n",
        "$ion_1_0 {after: 'quoted symbol'}\n",
    ));
    assert_eq!(
        rows,
        vec![
            json!({
                "ts": "2024-01-31T10:20:30.123Z", "day": "2024-01-31", "d": 12.34, "big": 150,
                "whole": 7, "sym": "hello", "blob": "aGk=", "clob": "text", "sexp": ["a", 1],
                "ann": "2024-01-31", "tnull": null
            }),
            json!({"after": "quoted symbol"}),
        ]
    );
}

#[test]
fn binary_ion_is_refused_by_name() {
    let element = ion_rs::Element::read_one("{a: [1, 2.5e0, \"x\"]}").unwrap();
    let binary: Vec<u8> = element.encode_as(ion_rs::v1_0::Binary).unwrap();
    let result: Result<Vec<Value>, _> = read_rows(binary.as_slice()).collect();
    assert!(matches!(result, Err(IonError::Binary)), "{result:?}");
}

#[test]
fn rows_stream_from_a_reader_and_an_empty_file_has_none() {
    assert!(read("").is_empty());
    let many: String = (0..5000).map(|i| format!("{{n: {i}}}\n")).collect();
    let mut count = 0;
    for (i, row) in read_rows(std::io::Cursor::new(many.into_bytes())).enumerate() {
        assert_eq!(row.unwrap(), json!({"n": i}));
        count += 1;
    }
    assert_eq!(count, 5000);
}

#[test]
fn a_syntax_error_names_its_row_and_ends_the_rows() {
    let mut rows = read_rows("{a: 1}\n{a: ]\n{a: 3}\n".as_bytes());
    assert_eq!(rows.next().unwrap().unwrap(), json!({"a": 1}));
    match rows.next().unwrap() {
        Err(IonError::Syntax { row, .. }) => assert_eq!(row, 2),
        other => panic!("expected a syntax error, got {other:?}"),
    }
    assert!(rows.next().is_none());
}

#[test]
fn a_file_over_the_byte_limit_is_refused() {
    let limits = Limits {
        max_bytes: 64,
        max_depth: 8,
    };
    let text: String = (0..20).map(|i| format!("{{n: {i}}}\n")).collect();
    let result: Result<Vec<Value>, _> = read_rows_with(text.as_bytes(), limits).collect();
    assert!(
        matches!(result, Err(IonError::TooLarge { limit: 64 })),
        "{result:?}"
    );
    // Exactly at the limit is fine.
    let exact = "{n: 1}\n".repeat(8);
    let limits = Limits {
        max_bytes: exact.len() as u64,
        max_depth: 8,
    };
    assert_eq!(read_rows_with(exact.as_bytes(), limits).count(), 8);

    let mut writer = IonWriter::with_limits(
        Vec::new(),
        Limits {
            max_bytes: 10,
            max_depth: 8,
        },
    );
    writer.write_row(&json!(1)).unwrap();
    let err = writer
        .write_row(&json!("a long string over ten bytes"))
        .unwrap_err();
    assert!(matches!(err, IonError::TooLarge { limit: 10 }));
    assert_eq!(writer.rows(), 1);
}

#[test]
fn nesting_beyond_the_depth_limit_is_refused_both_ways() {
    let limits = Limits {
        max_bytes: 1 << 20,
        max_depth: 3,
    };
    let ok = "[[[1]]]";
    assert_eq!(read_rows_with(ok.as_bytes(), limits).count(), 1);
    let deep = "{a: [[[1]]]}";
    let err = read_rows_with(deep.as_bytes(), limits)
        .next()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err, IonError::TooDeep { row: 1, limit: 3 }),
        "{err:?}"
    );

    let mut writer = IonWriter::with_limits(Vec::new(), limits);
    writer.write_row(&json!([[[1]]])).unwrap();
    let err = writer.write_row(&json!([[[[1]]]])).unwrap_err();
    assert!(matches!(err, IonError::TooDeep { row: 2, limit: 3 }));
}

#[test]
fn errors_never_quote_row_values() {
    let err = read_rows("{password: \"hunter2-secret\" oops}".as_bytes())
        .next()
        .unwrap()
        .unwrap_err();
    assert!(!err.to_string().contains("hunter2-secret"), "{err}");
}

#[test]
fn nan_floats_are_refused_by_name() {
    let err = read_rows("nan".as_bytes()).next().unwrap().unwrap_err();
    assert!(matches!(err, IonError::Unrepresentable { row: 1, .. }));
}

#[test]
fn a_hostile_nesting_ends_in_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let result: Result<Vec<Value>, _> = read_rows(deep.as_bytes()).collect();
    assert!(
        matches!(result, Err(IonError::FileTooDeep { limit: 64 })),
        "{result:?}"
    );
}
