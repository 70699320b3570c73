//! Kestra's serdes conversions between CSV or JSON files and Kestra's Ion files (one row per
//! line, `saker-ion`): `io.kestra.plugin.serdes.csv.{CsvToIon, IonToCsv}` and
//! `io.kestra.plugin.serdes.json.{JsonToIon, IonToJson}`, with Kestra's older names
//! (`CsvReader`, `CsvWriter`, `JsonReader`, `JsonWriter`) as aliases in the catalog.
//!
//! Each reads the file its `from` names (under the task's file access rules), converts it
//! row by row, and stores the result as a file of the task run: output `uri`. The result is
//! sealed as its source was (`task_file_io`), so a secret written into a CSV stays sealed
//! through every conversion. CSV fields are read as text, as Kestra reads them.

use saker_ion::{IonError, IonWriter, Limits, read_rows_with};
use saker_model::Level;
use serde_json::{Map, Value};

use super::task_file_io::{
    InputFile, bool_property, char_property, check_charset, count_property, max_file_bytes,
    property, read_property_file, store_output,
};
use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

/// Which conversion a runner does.
#[derive(Debug, Clone, Copy)]
pub enum Conversion {
    CsvToIon,
    IonToCsv,
    JsonToIon,
    IonToJson,
}

pub struct Serdes(pub Conversion);

impl TaskRunner for Serdes {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            check_charset(ctx)?;
            let input = read_property_file(ctx, "from")?;
            let max = max_file_bytes(ctx)?;
            let limits = Limits {
                max_bytes: max,
                ..Limits::DEFAULT
            };
            let (bytes, extension) = match self.0 {
                Conversion::CsvToIon => (csv_to_ion(ctx, &input, limits)?, "ion"),
                Conversion::IonToCsv => (ion_to_csv(ctx, &input, limits)?, "csv"),
                Conversion::JsonToIon => (json_to_ion(ctx, &input, limits)?, "ion"),
                Conversion::IonToJson => {
                    let new_line = bool_property(ctx, "newLine", true)?;
                    let extension = if new_line { "jsonl" } else { "json" };
                    (ion_to_json(ctx, &input, limits, new_line)?, extension)
                }
            };
            let name = format!("{}.{extension}", stem(&input));
            let uri = store_output(ctx, &name, &bytes, input.secret)?;
            let mut outputs = Map::new();
            outputs.insert("uri".into(), Value::String(uri.to_string()));
            Ok(TaskOutcome::with_outputs(outputs))
        })
    }
}

/// The input file's name without its extension, for the output's name.
fn stem(input: &InputFile) -> String {
    let path = input.uri.path();
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem.to_owned(),
        _ => name.to_owned(),
    }
}

/// The CSV properties both directions share, with Kestra's defaults.
struct CsvDialect {
    header: bool,
    separator: u8,
    delimiter: u8,
}

impl CsvDialect {
    fn of(ctx: &mut TaskContext) -> Result<Self, TaskError> {
        Ok(CsvDialect {
            header: bool_property(ctx, "header", true)?,
            separator: char_property(ctx, "fieldSeparator", b',')?,
            delimiter: char_property(ctx, "textDelimiter", b'"')?,
        })
    }
}

fn ion_error(e: IonError) -> TaskError {
    TaskError::Failed(format!("property 'from': {e}"))
}

fn csv_to_ion(
    ctx: &mut TaskContext,
    input: &InputFile,
    limits: Limits,
) -> Result<Vec<u8>, TaskError> {
    let CsvDialect {
        header,
        separator,
        delimiter,
    } = CsvDialect::of(ctx)?;
    let skip_rows = count_property(ctx, "skipRows", 0)?.unwrap_or(0);
    let strict = bool_property(ctx, "errorOnDifferentFieldCount", false)?;
    // The csv crate always skips empty lines; Kestra's default keeps them as rows of one
    // empty field, which no flow relies on. `skipEmptyRows` is accepted either way.
    bool_property(ctx, "skipEmptyRows", false)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(separator)
        .quote(delimiter)
        .flexible(!strict)
        .from_reader(input.bytes.as_slice());
    let mut writer = IonWriter::with_limits(Vec::new(), limits);
    let mut names: Option<Vec<String>> = None;
    let mut skipped = 0;
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(&e, line + 1))?;
        if header && names.is_none() {
            names = Some(record.iter().map(str::to_owned).collect());
            continue;
        }
        if skipped < skip_rows {
            skipped += 1;
            continue;
        }
        let row = match &names {
            Some(names) => Value::Object(
                names
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let field = record.get(i).map_or(Value::Null, Value::from);
                        (name.clone(), field)
                    })
                    .collect(),
            ),
            None => Value::Array(record.iter().map(Value::from).collect()),
        };
        writer.write_row(&row).map_err(ion_error)?;
    }
    writer.finish().map_err(ion_error)
}

/// A CSV error by position only: the csv crate's messages may quote the field.
fn csv_error(e: &csv::Error, record: usize) -> TaskError {
    let what = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "is not UTF-8 text",
        csv::ErrorKind::UnequalLengths { .. } => {
            "has a different number of fields than the first row \
             (errorOnDifferentFieldCount is true)"
        }
        _ => "cannot be read as CSV",
    };
    TaskError::Failed(format!("property 'from': CSV record {record} {what}"))
}

fn ion_to_csv(
    ctx: &mut TaskContext,
    input: &InputFile,
    limits: Limits,
) -> Result<Vec<u8>, TaskError> {
    let CsvDialect {
        header,
        separator,
        delimiter,
    } = CsvDialect::of(ctx)?;
    let always = bool_property(ctx, "alwaysDelimitText", false)?;
    let terminator = match ctx.render_string("lineDelimiter")?.as_deref() {
        None | Some("\n") | Some("\\n") => csv::Terminator::Any(b'\n'),
        Some("\r\n") | Some("\\r\\n") => csv::Terminator::CRLF,
        Some("\r") | Some("\\r") => csv::Terminator::Any(b'\r'),
        Some(_) => {
            return Err(property(
                "lineDelimiter",
                "expected \"\\n\", \"\\r\\n\" or \"\\r\"",
            ));
        }
    };
    warn_date_formats(ctx);
    let mut writer = csv::WriterBuilder::new()
        .delimiter(separator)
        .quote(delimiter)
        .terminator(terminator)
        .flexible(true)
        .quote_style(if always {
            csv::QuoteStyle::Always
        } else {
            csv::QuoteStyle::Necessary
        })
        .from_writer(Vec::new());
    let mut first = true;
    for (i, row) in read_rows_with(input.bytes.as_slice(), limits).enumerate() {
        let row = row.map_err(ion_error)?;
        let fields: Vec<String> = match &row {
            Value::Object(map) => {
                if first && header {
                    write_record(&mut writer, map.keys().cloned())?;
                }
                map.values().map(csv_field).collect()
            }
            Value::Array(items) if !header => items.iter().map(csv_field).collect(),
            Value::Array(_) => {
                return Err(TaskError::Failed(format!(
                    "row {} is a list, which has no field names for the header: set \
                     'header: false'",
                    i + 1
                )));
            }
            scalar => vec![csv_field(scalar)],
        };
        first = false;
        write_record(&mut writer, fields)?;
        if writer.get_ref().len() as u64 > limits.max_bytes {
            return Err(ion_error(IonError::TooLarge {
                limit: limits.max_bytes,
            }));
        }
    }
    writer
        .into_inner()
        .map_err(|e| TaskError::Failed(format!("cannot write the CSV file: {}", e.error())))
}

fn write_record(
    writer: &mut csv::Writer<Vec<u8>>,
    fields: impl IntoIterator<Item = String>,
) -> Result<(), TaskError> {
    writer
        .write_record(fields)
        .map_err(|e| TaskError::Failed(format!("cannot write the CSV file: {e}")))
}

/// A field's CSV text: strings as they are, null empty, lists and maps as JSON.
fn csv_field(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn json_to_ion(
    ctx: &mut TaskContext,
    input: &InputFile,
    limits: Limits,
) -> Result<Vec<u8>, TaskError> {
    let new_line = bool_property(ctx, "newLine", true)?;
    let text = std::str::from_utf8(&input.bytes)
        .map_err(|_| TaskError::Failed("property 'from': the file is not UTF-8 text".into()))?;
    let mut writer = IonWriter::with_limits(Vec::new(), limits);
    let invalid = |line: usize| {
        TaskError::Failed(format!(
            "property 'from': line {line} is not JSON (with 'newLine: true', the default, each \
             line is one JSON value; set 'newLine: false' for a JSON document)"
        ))
    };
    if new_line {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let row: Value = serde_json::from_str(line).map_err(|_| invalid(i + 1))?;
            writer.write_row(&row).map_err(ion_error)?;
        }
    } else {
        let document: Value = serde_json::from_str(text).map_err(|e| invalid(e.line()))?;
        match document {
            Value::Array(rows) => {
                for row in &rows {
                    writer.write_row(row).map_err(ion_error)?;
                }
            }
            row => writer.write_row(&row).map_err(ion_error)?,
        }
    }
    writer.finish().map_err(ion_error)
}

fn ion_to_json(
    ctx: &mut TaskContext,
    input: &InputFile,
    limits: Limits,
    new_line: bool,
) -> Result<Vec<u8>, TaskError> {
    warn_date_formats(ctx);
    let mut out = Vec::new();
    let mut all = Vec::new();
    for row in read_rows_with(input.bytes.as_slice(), limits) {
        let row = row.map_err(ion_error)?;
        if new_line {
            serde_json::to_writer(&mut out, &row)
                .map_err(|e| TaskError::Failed(format!("cannot write JSON: {e}")))?;
            out.push(b'\n');
            if out.len() as u64 > limits.max_bytes {
                return Err(ion_error(IonError::TooLarge {
                    limit: limits.max_bytes,
                }));
            }
        } else {
            all.push(row);
        }
    }
    if !new_line {
        out = serde_json::to_vec(&Value::Array(all))
            .map_err(|e| TaskError::Failed(format!("cannot write JSON: {e}")))?;
    }
    Ok(out)
}

/// Kestra's date formatting properties apply to Java date values, which Saker's rows do not
/// hold: Ion timestamps come out as ISO 8601 text. Said once, not silently ignored.
fn warn_date_formats(ctx: &mut TaskContext) {
    let set: Vec<&str> = [
        "dateFormat",
        "timeFormat",
        "dateTimeFormat",
        "zonedDateTimeFormat",
        "timeZoneId",
    ]
    .into_iter()
    .filter(|name| ctx.property(name).is_some_and(|v| !v.is_null()))
    .collect();
    if !set.is_empty() {
        ctx.log(
            Level::Warn,
            &format!(
                "{} not applied: Saker writes Ion timestamps as ISO 8601 text",
                set.join(", ")
            ),
        );
    }
}
