//! `kestra:///…` URIs and the places Kestra gives them: a task run's files, an execution's
//! input files, a namespace's files. A [`StorageUri`] is validated once, when it is made: no
//! empty, `.` or `..` segment, no backslash or control character, so that no later join
//! with a directory can climb out of it.

use std::fmt;

use crate::StorageError;

/// The scheme of internal storage URIs, with the empty authority Kestra writes.
pub const SCHEME_PREFIX: &str = "kestra:///";

/// The folder under a namespace's path that holds its namespace files.
pub const NAMESPACE_FILES: &str = "_files";

/// A validated path in the internal storage, shown as `kestra:///a/b/c`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageUri {
    /// `a/b/c`: segments joined by `/`, no leading or trailing slash, never empty.
    path: String,
}

impl StorageUri {
    /// Parses `kestra:///a/b/c` (the scheme is matched without regard to case, as Kestra
    /// does). A `..`, `.` or empty segment, a backslash or a control character is refused.
    pub fn parse(uri: &str) -> Result<Self, StorageError> {
        let rest = uri
            .get(..SCHEME_PREFIX.len())
            .filter(|scheme| scheme.eq_ignore_ascii_case(SCHEME_PREFIX))
            .map(|_| &uri[SCHEME_PREFIX.len()..])
            .ok_or_else(|| StorageError::InvalidUri {
                uri: uri.to_owned(),
                reason: format!("an internal storage URI starts with {SCHEME_PREFIX}"),
            })?;
        Self::from_path(rest).map_err(|e| match e {
            StorageError::InvalidPath { reason, .. } => StorageError::InvalidUri {
                uri: uri.to_owned(),
                reason,
            },
            other => other,
        })
    }

    /// A URI from a relative path (`a/b/c`; one leading `/` is allowed).
    pub fn from_path(path: &str) -> Result<Self, StorageError> {
        let trimmed = path.strip_prefix('/').unwrap_or(path);
        let segments: Vec<&str> = trimmed.split('/').collect();
        for segment in &segments {
            check_segment(path, segment)?;
        }
        Ok(Self {
            path: segments.join("/"),
        })
    }

    /// The URI of `relative` (a path such as `out/report.csv`) under this one.
    pub fn join(&self, relative: &str) -> Result<Self, StorageError> {
        let child = Self::from_path(relative)?;
        Ok(Self {
            path: format!("{}/{}", self.path, child.path),
        })
    }

    /// The folder of an execution: `{namespace as path}/{flow}/executions/{execution}`.
    pub fn execution(
        namespace: &str,
        flow_id: &str,
        execution_id: &str,
    ) -> Result<Self, StorageError> {
        Self::from_path(&format!(
            "{}/{}/executions/{}",
            namespace_as_path(namespace),
            slugify(flow_id),
            execution_id
        ))
    }

    /// The folder of a task run's files:
    /// `{namespace as path}/{flow}/executions/{execution}/tasks/{task}/{task run}`.
    pub fn task_run(
        namespace: &str,
        flow_id: &str,
        execution_id: &str,
        task_id: &str,
        task_run_id: &str,
    ) -> Result<Self, StorageError> {
        Self::execution(namespace, flow_id, execution_id)?.join(&format!(
            "tasks/{}/{}",
            slugify(task_id),
            task_run_id
        ))
    }

    /// The URI of an input file:
    /// `{namespace as path}/{flow}/executions/{execution}/inputs/{input}/{file name}`.
    pub fn input_file(
        namespace: &str,
        flow_id: &str,
        execution_id: &str,
        input: &str,
        file_name: &str,
    ) -> Result<Self, StorageError> {
        Self::execution(namespace, flow_id, execution_id)?
            .join(&format!("inputs/{input}/{file_name}"))
    }

    /// The folder of a namespace's files: `{namespace as path}/_files`.
    pub fn namespace_files(namespace: &str) -> Result<Self, StorageError> {
        Self::from_path(&format!(
            "{}/{NAMESPACE_FILES}",
            namespace_as_path(namespace)
        ))
    }

    /// The path (`a/b/c`), without scheme or leading slash.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The last segment (a file's name).
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The segments of the path.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.path.split('/')
    }

    /// True when this URI is `folder` or lies under it.
    pub fn is_under(&self, folder: &StorageUri) -> bool {
        self.path == folder.path
            || self
                .path
                .strip_prefix(folder.path.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    }

    /// The path of this URI relative to `folder` (`None` when it is not under it or is it).
    pub fn relative_to(&self, folder: &StorageUri) -> Option<&str> {
        self.path
            .strip_prefix(folder.path.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
    }
}

impl fmt::Display for StorageUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME_PREFIX}{}", self.path)
    }
}

impl fmt::Debug for StorageUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Kestra's layout puts a namespace's segments as folders: `company.team` → `company/team`.
pub fn namespace_as_path(namespace: &str) -> String {
    namespace.replace('.', "/")
}

/// Kestra's `Slugify.of`, which names the flow and task folders: whitespace becomes `-`,
/// characters other than letters, digits, `_` and `-` are dropped, leading and trailing
/// dashes go, and the rest is lower-cased.
pub fn slugify(text: &str) -> String {
    let kept: String = text
        .chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some('-')
            } else if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c)
            } else {
                None
            }
        })
        .collect();
    kept.trim_matches('-').to_lowercase()
}

/// A tenant id, as the first folder of the layout: one plain segment.
pub(crate) fn check_tenant(tenant: &str) -> Result<(), StorageError> {
    let segment = if tenant.contains('/') { "" } else { tenant };
    check_segment(tenant, segment).map_err(|_| StorageError::InvalidPath {
        path: tenant.to_owned(),
        reason: "a tenant id is one path segment without '/', '\\', '.' or '..'".into(),
    })
}

fn check_segment(path: &str, segment: &str) -> Result<(), StorageError> {
    let reason = if segment.is_empty() {
        "it has an empty segment (a leading, trailing or doubled '/')"
    } else if segment == ".." {
        "'..' is not allowed: give the full path from the root"
    } else if segment == "." {
        "'.' segments are not allowed"
    } else if segment.contains('\\') {
        "'\\' is not allowed in a path"
    } else if segment.chars().any(char::is_control) {
        "control characters are not allowed in a path"
    } else if segment.len() > 255 {
        "a file or folder name is longer than 255 bytes"
    } else {
        return Ok(());
    };
    Err(StorageError::InvalidPath {
        path: path.to_owned(),
        reason: reason.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_kestras() {
        let task = StorageUri::task_run("company.team", "My Flow", "E1", "t.1", "R1").unwrap();
        assert_eq!(
            task.to_string(),
            "kestra:///company/team/my-flow/executions/E1/tasks/t1/R1"
        );
        let input = StorageUri::input_file("company.team", "f", "E1", "data", "a.csv").unwrap();
        assert_eq!(
            input.to_string(),
            "kestra:///company/team/f/executions/E1/inputs/data/a.csv"
        );
        let ns = StorageUri::namespace_files("company.team").unwrap();
        assert_eq!(ns.to_string(), "kestra:///company/team/_files");
        assert!(input.is_under(&StorageUri::execution("company.team", "f", "E1").unwrap()));
        assert!(!input.is_under(&StorageUri::execution("company.team", "f", "E").unwrap()));
        assert_eq!(input.file_name(), "a.csv");
    }

    #[test]
    fn parsing_refuses_what_could_climb_out() {
        assert_eq!(
            StorageUri::parse("KESTRA:///a/b.txt").unwrap().path(),
            "a/b.txt"
        );
        for bad in [
            "kestra:///a/../b",
            "kestra:///a/./b",
            "kestra:///a//b",
            "kestra:///",
            "kestra:///a/",
            "kestra:///a\\..\\b",
            "kestra:///a/\u{0}b",
            "file:///etc/passwd",
            "/etc/passwd",
        ] {
            let e = StorageUri::parse(bad).unwrap_err();
            assert!(matches!(e, StorageError::InvalidUri { .. }), "{bad}: {e}");
        }
        let e = StorageUri::parse("kestra:///a/../b")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'..'"), "{e}");
        assert!(StorageUri::from_path("a").unwrap().join("../b").is_err());
        assert!(check_tenant("main").is_ok());
        assert!(check_tenant("..").is_err());
        assert!(check_tenant("a/b").is_err());
    }

    #[test]
    fn slugs_follow_kestra() {
        assert_eq!(slugify("Hello World"), "hello-world");
        assert_eq!(slugify("my_flow-1"), "my_flow-1");
        assert_eq!(slugify("-a.b-"), "ab");
    }
}
