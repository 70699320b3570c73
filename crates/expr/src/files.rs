//! The file functions: `read(path)`, `fileExists(path)`, `fileSize(path)`,
//! `isFileEmpty(path)`, each with an optional `namespace=`. The expression engine does no
//! I/O: files come through a [`FileReader`] the caller supplies ([`crate::RenderEnv::files`]),
//! which decides what a path may name (the execution's own `kestra:///` files, the
//! namespace's files) and whether what it returns is secret.

use std::sync::Arc;

use crate::error::ErrorKind;
use crate::value::Value;

/// Reads the files a template may name. Implemented by the engine over its internal
/// storage, with the rules of the execution that renders.
pub trait FileReader: Send + Sync {
    /// The content of the file at `path`: a `kestra:///` URI, or a path among the namespace
    /// files of `namespace` (the flow's namespace when `None`).
    fn read(&self, path: &str, namespace: Option<&str>) -> Result<FileText, FileLookupError>;

    /// The size of the file at `path`, `None` when there is none.
    fn size(
        &self,
        path: &str,
        namespace: Option<&str>,
    ) -> Result<Option<FileSize>, FileLookupError>;
}

/// A file's size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSize {
    pub bytes: u64,
    /// The file holds a secret: how long it is derives from the secret.
    pub secret: bool,
}

/// A file's content as text (invalid UTF-8 replaced, as Kestra reads it).
pub struct FileText {
    pub text: Arc<str>,
    /// The file was stored encrypted because it holds a secret: its content is tainted.
    pub secret: bool,
}

/// Why a file could not be read. The message must not hold the file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLookupError {
    pub message: String,
}

impl FileLookupError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FileLookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FileLookupError {}

/// Which of the file functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileFunc {
    Read,
    Exists,
    Size,
    IsEmpty,
}

impl FileFunc {
    fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Exists => "fileExists",
            Self::Size => "fileSize",
            Self::IsEmpty => "isFileEmpty",
        }
    }
}

/// Calls a file function with its `path` and `namespace` arguments (null when not given).
pub(crate) fn call(
    func: FileFunc,
    args: &[Value],
    reader: Option<&dyn FileReader>,
) -> Result<Value, ErrorKind> {
    let name = func.name();
    let path = match args.first() {
        Some(Value::String(s, _)) => s.as_ref(),
        None | Some(Value::Null(_)) => {
            return Err(ErrorKind::Argument(format!(
                "function '{name}' expects an argument 'path': a namespace file path or an \
                 internal storage URI (kestra:///...)"
            )));
        }
        Some(other) => {
            return Err(ErrorKind::Argument(format!(
                "function '{name}': argument 'path' must be a string, got {}",
                crate::filters::article(other.type_name())
            )));
        }
    };
    let namespace = match args.get(1) {
        Some(Value::String(s, _)) => Some(s.as_ref()),
        None | Some(Value::Null(_)) => None,
        Some(other) => {
            return Err(ErrorKind::Argument(format!(
                "function '{name}': argument 'namespace' must be a string, got {}",
                crate::filters::article(other.type_name())
            )));
        }
    };
    let reader = reader.ok_or_else(|| {
        ErrorKind::Argument(format!(
            "function '{name}': files cannot be read here (no internal storage)"
        ))
    })?;
    let failed = |e: FileLookupError| ErrorKind::Argument(format!("function '{name}': {e}"));
    match func {
        FileFunc::Read => {
            let file = reader.read(path, namespace).map_err(failed)?;
            Ok(if file.secret {
                Value::secret(file.text)
            } else {
                Value::string(file.text)
            })
        }
        FileFunc::Exists => Ok(Value::from(
            reader.size(path, namespace).map_err(failed)?.is_some(),
        )),
        FileFunc::Size | FileFunc::IsEmpty => {
            let size = reader
                .size(path, namespace)
                .map_err(failed)?
                .ok_or_else(|| {
                    ErrorKind::Argument(format!("function '{name}': no file at '{path}'"))
                })?;
            let value = if func == FileFunc::Size {
                Value::from(i64::try_from(size.bytes).unwrap_or(i64::MAX))
            } else {
                Value::from(size.bytes == 0)
            };
            Ok(if size.secret { value.tainted() } else { value })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::{Context, RenderEnv, Template};

    /// Files by path; names starting with `sealed/` come back secret.
    struct Files(HashMap<&'static str, &'static str>);

    impl FileReader for Files {
        fn read(&self, path: &str, namespace: Option<&str>) -> Result<FileText, FileLookupError> {
            let key = match namespace {
                Some(ns) => format!("{ns}:{path}"),
                None => path.to_owned(),
            };
            let text = self
                .0
                .get(key.as_str())
                .ok_or_else(|| FileLookupError::new(format!("no file '{path}'")))?;
            Ok(FileText {
                text: Arc::from(*text),
                secret: path.starts_with("sealed/"),
            })
        }

        fn size(&self, path: &str, _: Option<&str>) -> Result<Option<FileSize>, FileLookupError> {
            Ok(self.0.get(path).map(|t| FileSize {
                bytes: t.len() as u64,
                secret: path.starts_with("sealed/"),
            }))
        }
    }

    fn render(source: &str) -> Result<crate::Rendered, crate::ExprError> {
        let files = Files(HashMap::from([
            ("a.txt", "hello"),
            ("empty.txt", ""),
            ("other.ns:b.txt", "from other"),
            ("sealed/s.txt", "s3cr3t-file-content"),
        ]));
        let env = RenderEnv {
            files: Some(&files),
            ..RenderEnv::default()
        };
        Template::compile(source)?.render(&Context::new(), &env)
    }

    #[test]
    fn files_are_read_through_the_reader() {
        let r = render(
            "{{ read('a.txt') }} {{ read('b.txt', namespace='other.ns') }} {{ fileExists('a.txt') }} \
             {{ fileExists('nope') }} {{ fileSize('a.txt') }} {{ isFileEmpty('empty.txt') }}",
        )
        .unwrap();
        assert_eq!(r.text, "hello from other true false 5 true");
        assert!(!r.is_tainted());
        let e = render("{{ read('nope.txt') }}").unwrap_err().to_string();
        assert!(e.contains("function 'read': no file 'nope.txt'"), "{e}");
        let e = render("{{ fileSize('nope.txt') }}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no file at 'nope.txt'"), "{e}");
    }

    #[test]
    fn a_sealed_file_is_tainted() {
        let r =
            render("x={{ read('sealed/s.txt') | upper }} {{ fileSize('sealed/s.txt') }}").unwrap();
        assert_eq!(r.masked("****"), "x=**** ****");
        assert!(
            r.tainted_strings
                .contains(&"s3cr3t-file-content".to_owned())
        );
    }
}
