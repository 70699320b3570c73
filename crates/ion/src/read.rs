//! Reading Ion rows (text or binary) as JSON values, streaming one row at a time.

use std::cell::Cell;
use std::io::{BufReader, Read};
use std::rc::Rc;

use base64::Engine as _;
use ion_rs::{Element, IonResult, Value as Ion};
use serde_json::{Map, Number, Value};

use crate::depth::DepthScanner;
use crate::{IonError, Limits};

/// Streams the rows of an Ion file with the default [`Limits`].
pub fn read_rows<'a, R: Read + 'a>(input: R) -> IonRows<'a> {
    read_rows_with(input, Limits::DEFAULT)
}

/// Streams the rows of an Ion file. The iterator ends after the first error.
pub fn read_rows_with<'a, R: Read + 'a>(input: R, limits: Limits) -> IonRows<'a> {
    let over = Rc::new(Cell::new(None));
    let bounded = Bounded {
        inner: input,
        left: limits.max_bytes,
        depth: DepthScanner::new(limits.max_depth),
        first: true,
        over: over.clone(),
    };
    let elements = Element::iter(BufReader::new(Box::new(bounded) as Box<dyn Read + 'a>));
    let (elements, pending) = match elements {
        Ok(elements) => (Some(Box::new(elements) as Elements<'a>), None),
        Err(e) => (None, Some(e)),
    };
    IonRows {
        elements,
        pending,
        over,
        limits,
        row: 0,
        done: false,
    }
}

type Elements<'a> = Box<dyn Iterator<Item = IonResult<Element>> + 'a>;

/// The rows of an Ion file, each a JSON value (see the crate's documentation for the mapping).
pub struct IonRows<'a> {
    elements: Option<Elements<'a>>,
    pending: Option<ion_rs::IonError>,
    over: Rc<Cell<Option<Stop>>>,
    limits: Limits,
    row: u64,
    done: bool,
}

impl Iterator for IonRows<'_> {
    type Item = Result<Value, IonError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = match self.pending.take() {
            Some(e) => Some(Err(e)),
            None => self.elements.as_mut().and_then(Iterator::next),
        };
        self.row += 1;
        let result = match next? {
            Ok(element) => to_json(&element, 0, self.limits.max_depth, self.row),
            Err(e) => Err(self.read_error(e)),
        };
        self.done = result.is_err();
        Some(result)
    }
}

impl IonRows<'_> {
    fn read_error(&self, e: ion_rs::IonError) -> IonError {
        match self.over.get() {
            Some(Stop::TooLarge) => {
                return IonError::TooLarge {
                    limit: self.limits.max_bytes,
                };
            }
            Some(Stop::TooDeep) => {
                return IonError::FileTooDeep {
                    limit: self.limits.max_depth,
                };
            }
            Some(Stop::Binary) => return IonError::Binary,
            None => {}
        }
        match e {
            ion_rs::IonError::Io(io) => IonError::Io(std::io::Error::new(
                io.source().kind(),
                io.source().to_string(),
            )),
            // ion-rs quotes the offending input in its messages, and a row may be secret:
            // the row number is all that leaves.
            _ => IonError::Syntax { row: self.row },
        }
    }
}

/// Why [`Bounded`] stopped the read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    TooLarge,
    TooDeep,
    Binary,
}

/// The first byte of binary Ion's version marker (`E0 01 00 EA`); Ion text never starts so.
const BINARY_MARKER: u8 = 0xE0;

/// A reader that fails once more than `left` bytes have been asked of it, when the text nests
/// too deeply, or when the input is binary Ion, and says why in `over` (ion-rs wraps the
/// error, so the flag is how the iterator tells them apart).
struct Bounded<R> {
    inner: R,
    left: u64,
    depth: DepthScanner,
    first: bool,
    over: Rc<Cell<Option<Stop>>>,
}

impl<R: Read> Bounded<R> {
    fn stop(&self, why: Stop) -> std::io::Error {
        self.over.set(Some(why));
        std::io::Error::other("the Ion file was refused by its limits")
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.over.get().is_some() {
            return Err(std::io::Error::other(
                "the Ion file was refused by its limits",
            ));
        }
        // Ask for one byte beyond the limit, so a file of exactly the limit still ends cleanly.
        let want = (buf.len() as u64).min(self.left + 1) as usize;
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            return Err(self.stop(Stop::TooLarge));
        }
        if self.first && n > 0 {
            self.first = false;
            if buf[0] == BINARY_MARKER {
                return Err(self.stop(Stop::Binary));
            }
        }
        if !self.depth.scan(&buf[..n]) {
            return Err(self.stop(Stop::TooDeep));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn to_json(element: &Element, depth: usize, max_depth: usize, row: u64) -> Result<Value, IonError> {
    let nested = |items: &mut dyn Iterator<Item = &Element>| -> Result<Vec<Value>, IonError> {
        if depth >= max_depth {
            return Err(IonError::TooDeep {
                row,
                limit: max_depth,
            });
        }
        items
            .map(|e| to_json(e, depth + 1, max_depth, row))
            .collect()
    };
    Ok(match element.value() {
        Ion::Null(_) => Value::Null,
        Ion::Bool(b) => Value::Bool(*b),
        Ion::Int(i) => match (i.as_i64(), i.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            // Beyond 64 bits: JSON numbers here are 64-bit, so the digits are kept as text.
            (None, None) => Value::String(i.to_string()),
        },
        Ion::Float(f) => float(*f, row)?,
        Ion::Decimal(d) => decimal(&d.to_string(), row)?,
        Ion::Timestamp(t) => Value::String(timestamp(&t.to_string())),
        Ion::Symbol(s) => s
            .text()
            .map_or(Value::Null, |t| Value::String(t.to_owned())),
        Ion::String(s) => Value::String(s.text().to_owned()),
        Ion::Clob(bytes) => Value::String(String::from_utf8_lossy(bytes.as_ref()).into_owned()),
        Ion::Blob(bytes) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes.as_ref()))
        }
        Ion::List(items) | Ion::SExp(items) => Value::Array(nested(&mut items.iter())?),
        Ion::Struct(fields) => {
            if depth >= max_depth {
                return Err(IonError::TooDeep {
                    row,
                    limit: max_depth,
                });
            }
            let mut map = Map::new();
            for (name, value) in fields.fields() {
                let name = name.text().unwrap_or_default().to_owned();
                map.insert(name, to_json(value, depth + 1, max_depth, row)?);
            }
            Value::Object(map)
        }
    })
}

fn float(f: f64, row: u64) -> Result<Value, IonError> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or(IonError::Unrepresentable {
            row,
            what: "a float that is NaN or infinite",
        })
}

/// An Ion decimal's text (`12.34`, `1.5d2`, `7.`) as a JSON number: an integer when it has no
/// fraction and fits, else the nearest double (what Jackson prints for a BigDecimal that a
/// double carries).
fn decimal(text: &str, row: u64) -> Result<Value, IonError> {
    let normal = text.replace(['d', 'D'], "e");
    let normal = normal.strip_suffix('.').unwrap_or(&normal);
    if let Ok(i) = normal.parse::<i64>() {
        return Ok(Value::from(i));
    }
    let f: f64 = normal.parse().map_err(|_| IonError::Unrepresentable {
        row,
        what: "a decimal",
    })?;
    if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        return Ok(Value::from(f as i64));
    }
    float(f, row)
}

/// Ion's timestamp text is ISO 8601 but for dates, which Ion writes `2024-01-31T` (and years
/// or months `2024T`, `2024-01T`): those lose the `T` to read as ISO dates.
/// UTC (`+00:00`, or Ion's unknown offset `-00:00`) is written `Z`, as Java's `Instant` is.
fn timestamp(text: &str) -> String {
    if let Some(date) = text.strip_suffix('T') {
        return date.to_owned();
    }
    match text.strip_suffix("+00:00").or(text.strip_suffix("-00:00")) {
        Some(local) => format!("{local}Z"),
        None => text.to_owned(),
    }
}
