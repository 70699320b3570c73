//! Writing JSON values as Ion rows: one top-level Ion text value per line, as Kestra writes.

use std::io::Write;

use ion_rs::{Element, Int, IonType, Struct};
use serde_json::{Number, Value};

use crate::{IonError, Limits};

/// Writes rows to an Ion text file. Call [`IonWriter::finish`] to flush and get the output
/// back; rows already written stay written if a later row fails.
pub struct IonWriter<W: Write> {
    out: W,
    limits: Limits,
    rows: u64,
    bytes: u64,
    line: String,
}

impl<W: Write> IonWriter<W> {
    pub fn new(out: W) -> Self {
        Self::with_limits(out, Limits::DEFAULT)
    }

    pub fn with_limits(out: W, limits: Limits) -> Self {
        IonWriter {
            out,
            limits,
            rows: 0,
            bytes: 0,
            line: String::new(),
        }
    }

    /// Writes one row. JSON objects become Ion structs, arrays lists, integers ints and
    /// other numbers floats (Kestra reads JSON numbers with a fraction as doubles).
    pub fn write_row(&mut self, row: &Value) -> Result<(), IonError> {
        let row_number = self.rows + 1;
        let element = to_element(row, 0, self.limits.max_depth).ok_or(IonError::TooDeep {
            row: row_number,
            limit: self.limits.max_depth,
        })?;
        self.line.clear();
        // `Element`'s Display is Ion text on one line: strings escape their newlines.
        use std::fmt::Write as _;
        write!(self.line, "{element}").expect("writing to a String cannot fail");
        self.line.push('\n');
        let size = self.line.len() as u64;
        if self.bytes + size > self.limits.max_bytes {
            return Err(IonError::TooLarge {
                limit: self.limits.max_bytes,
            });
        }
        self.out.write_all(self.line.as_bytes())?;
        self.bytes += size;
        self.rows = row_number;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes and returns the output.
    pub fn finish(mut self) -> Result<W, IonError> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The Ion element of a JSON value, or `None` when it nests deeper than `max_depth`.
fn to_element(value: &Value, depth: usize, max_depth: usize) -> Option<Element> {
    let container = matches!(value, Value::Array(_) | Value::Object(_));
    if container && depth >= max_depth {
        return None;
    }
    Some(match value {
        Value::Null => Element::from(IonType::Null),
        Value::Bool(b) => Element::from(*b),
        Value::Number(n) => number(n),
        Value::String(s) => Element::from(s.as_str()),
        Value::Array(items) => {
            let list: Vec<Element> = items
                .iter()
                .map(|item| to_element(item, depth + 1, max_depth))
                .collect::<Option<_>>()?;
            Element::from(ion_rs::List::from_iter(list))
        }
        Value::Object(fields) => {
            let fields: Vec<(&str, Element)> = fields
                .iter()
                .map(|(k, v)| Some((k.as_str(), to_element(v, depth + 1, max_depth)?)))
                .collect::<Option<_>>()?;
            Element::from(Struct::from_iter(fields))
        }
    })
}

fn number(n: &Number) -> Element {
    if let Some(i) = n.as_i64() {
        Element::from(Int::from(i))
    } else if let Some(u) = n.as_u64() {
        Element::from(Int::from(u))
    } else {
        // serde_json numbers are finite: an f64 is always there when the integers are not.
        Element::from(n.as_f64().unwrap_or_default())
    }
}
