//! `fetchType: STORE`: a statement's rows written as Kestra writes them, Amazon Ion text with
//! one row (a struct) per line (`saker-ion`), into a file of the task run in the internal
//! storage. The file is bounded by the storage's limit on one file, and stored sealed when
//! the query sent a secret or the rows hold a value of the execution's mask set.

use saker_ion::{IonError, IonWriter, Limits};
use serde_json::Value as Json;

use super::put_task_file;
use crate::runner::{TaskContext, TaskError};

/// The rows of one statement, as Ion text in memory until stored.
pub(super) struct IonRows {
    writer: IonWriter<Vec<u8>>,
}

impl IonRows {
    /// Rows of at most `max_bytes` in all.
    pub(super) fn new(max_bytes: u64) -> Self {
        let limits = Limits {
            max_bytes,
            ..Limits::DEFAULT
        };
        Self {
            writer: IonWriter::with_limits(Vec::new(), limits),
        }
    }

    pub(super) fn push(&mut self, row: Json) -> Result<(), TaskError> {
        self.writer.write_row(&row).map_err(|err| match err {
            IonError::TooLarge { limit } => TaskError::Failed(format!(
                "the rows to STORE are more than the {limit} bytes a stored file may hold: \
                 select fewer rows or columns"
            )),
            other => TaskError::Failed(format!("writing the rows as Ion: {other}")),
        })
    }

    /// Stores the file as `name` in the task run's folder, sealed when `secret` or when it
    /// holds a value of the mask set; its `kestra:///` URI.
    pub(super) fn put(
        self,
        ctx: &mut TaskContext,
        name: &str,
        secret: bool,
    ) -> Result<String, TaskError> {
        let bytes = self
            .writer
            .finish()
            .map_err(|err| TaskError::Failed(format!("writing the rows as Ion: {err}")))?;
        put_task_file(ctx, name, &bytes, secret)
    }
}
