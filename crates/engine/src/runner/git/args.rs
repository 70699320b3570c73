//! What a `Clone` task asks of git: the remote (its URL without credentials, and the
//! credentials apart) and the options that become `git clone` arguments or process-only
//! configuration.

use std::path::{Component, Path};

use base64::Engine as _;
use url::Url;
use zeroize::Zeroizing;

use super::super::{TaskContext, TaskError};
use crate::task_context::is_truthy;

/// The repository to clone. Never `Debug`: it holds the password.
pub(super) struct Remote {
    /// The URL with any user information taken out.
    url: Url,
    username: Option<String>,
    password: Option<Zeroizing<String>>,
}

impl Remote {
    /// Reads `text` as an HTTP(S) URL. The messages never quote the URL: it may hold a token.
    pub(super) fn parse(text: &str) -> Result<Self, &'static str> {
        if text.is_empty() {
            return Err("is empty: give the repository's HTTP(S) URL");
        }
        let mut url = Url::parse(text).map_err(|_| {
            if text.contains('@') && !text.contains("://") {
                "looks like an SSH address (user@host:path); cloning over SSH is not yet \
                 available in Saker: use the repository's HTTPS URL"
            } else {
                "is not a valid URL: give the repository's HTTP(S) URL, such as \
                 https://example.com/team/repo.git"
            }
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(
                "is not an HTTP(S) URL with a host; Saker clones over HTTP(S) only (SSH and \
                 local paths are not yet available)",
            );
        }
        let username = Some(decode(url.username())).filter(|u| !u.is_empty());
        let password = url
            .password()
            .map(|p| Zeroizing::new(decode(p)))
            .filter(|p| !p.is_empty());
        // Both setters succeed on an http(s) URL with a host.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Ok(Self {
            url,
            username,
            password,
        })
    }

    /// The task's `username` and `password`; each replaces the one written in the URL.
    pub(super) fn set_credentials(
        &mut self,
        username: Option<String>,
        password: Option<Zeroizing<String>>,
    ) -> Result<(), TaskError> {
        if let Some(username) = username.filter(|u| !u.is_empty()) {
            self.username = Some(username);
        }
        if let Some(password) = password.filter(|p| !p.is_empty()) {
            self.password = Some(password);
        }
        match (&self.username, &self.password) {
            (Some(_), None) => Err(TaskError::Property {
                property: "password".into(),
                message: "is missing while a username is given: give both, or neither for a \
                          public repository"
                    .into(),
            }),
            (None, Some(_)) => Err(TaskError::Property {
                property: "username".into(),
                message: "is missing while a password is given: give both (with an access \
                          token, the account name or any name the server accepts)"
                    .into(),
            }),
            _ => Ok(()),
        }
    }

    /// The base64 of `username:password`, as HTTP basic authentication sends it.
    pub(super) fn basic_credentials(&self) -> Option<Zeroizing<String>> {
        let (Some(user), Some(password)) = (&self.username, &self.password) else {
            return None;
        };
        let pair = Zeroizing::new(format!("{user}:{}", password.as_str()));
        Some(Zeroizing::new(
            base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()),
        ))
    }

    /// `scheme://host[:port]/`: git's `http.<url>.*` settings apply to URLs under it, so the
    /// credentials go to this origin only (not to a submodule or a redirect elsewhere).
    pub(super) fn origin(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(port) => format!("{}://{host}:{port}/", self.url.scheme()),
            None => format!("{}://{host}/", self.url.scheme()),
        }
    }

    /// The URL git is given and stores as `remote.origin.url`.
    pub(super) fn url_without_credentials(&self) -> String {
        self.url.as_str().to_owned()
    }
}

fn decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Kestra's default `depth`: a shallow clone.
const DEFAULT_DEPTH: u32 = 1;

/// The clone's options, rendered.
pub(super) struct CloneOptions {
    /// Relative to the working directory; `None` is the working directory itself.
    pub(super) directory: Option<String>,
    branch: Option<String>,
    depth: u32,
    /// Checked out detached after the clone (which then fetches the whole history).
    pub(super) commit: Option<String>,
    tag: Option<String>,
    submodules: bool,
    all_branches: bool,
    no_tags: bool,
    ca_file: Option<String>,
    read_timeout_secs: Option<u64>,
    /// Written into the clone's `.git/config`: never from a secret.
    git_config: Vec<(String, String)>,
}

impl CloneOptions {
    pub(super) fn from_task(ctx: &mut TaskContext) -> Result<Self, TaskError> {
        let directory = text(ctx, "directory")?
            .map(|d| d.trim_end_matches('/').to_owned())
            .filter(|d| !d.is_empty() && d != ".");
        if let Some(dir) = &directory {
            let relative = Path::new(dir)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
            if !relative {
                return Err(property(
                    "directory",
                    "must be a relative path inside the working directory, without '..'",
                ));
            }
        }
        let commit = text(ctx, "commit")?;
        if let Some(commit) = &commit {
            let hex =
                (4..=64).contains(&commit.len()) && commit.bytes().all(|b| b.is_ascii_hexdigit());
            if !hex {
                return Err(property(
                    "commit",
                    "is not a commit id: give 4 to 64 hexadecimal digits of its SHA",
                ));
            }
        }
        let depth =
            match text(ctx, "depth")? {
                None => DEFAULT_DEPTH,
                Some(d) => d.parse::<u32>().ok().filter(|d| *d >= 1).ok_or_else(|| {
                    property("depth", "is not a whole number of commits, 1 or more")
                })?,
            };
        let read_timeout_secs = match text(ctx, "readTimeout")? {
            None => None,
            Some(ms) => Some(
                ms.parse::<u64>()
                    .ok()
                    .filter(|ms| *ms >= 1)
                    .ok_or_else(|| property("readTimeout", "is not a number of milliseconds"))?
                    .div_ceil(1000),
            ),
        };
        Ok(Self {
            directory,
            branch: text(ctx, "branch")?,
            depth,
            commit,
            tag: text(ctx, "tag")?,
            submodules: flag(ctx, "cloneSubmodules", false)?,
            all_branches: flag(ctx, "cloneAllBranches", true)?,
            no_tags: flag(ctx, "noTags", false)?,
            ca_file: text(ctx, "trustedCaPemPath")?,
            read_timeout_secs,
            git_config: git_config(ctx)?,
        })
    }

    /// `git clone` and its options, up to (not including) `--`.
    pub(super) fn clone_args(&self) -> Vec<String> {
        let mut args = vec!["clone".to_owned()];
        // As Kestra: a commit or a tag needs the history to reach it.
        if self.commit.is_none() && self.tag.is_none() {
            args.extend(["--depth".to_owned(), self.depth.to_string()]);
        }
        if self.commit.is_none()
            && let Some(reference) = self.tag.as_ref().or(self.branch.as_ref())
        {
            args.extend(["--branch".to_owned(), reference.clone()]);
        }
        args.push(if self.all_branches {
            "--no-single-branch".to_owned()
        } else {
            "--single-branch".to_owned()
        });
        if self.no_tags {
            args.push("--no-tags".to_owned());
        }
        if self.submodules {
            args.push("--recurse-submodules".to_owned());
        }
        for (key, value) in &self.git_config {
            args.extend(["--config".to_owned(), format!("{key}={value}")]);
        }
        args
    }

    /// Settings for the git process only (never written to `.git/config`).
    pub(super) fn process_config(&self) -> Vec<(String, String)> {
        let mut config = Vec::new();
        if let Some(file) = &self.ca_file {
            config.push(("http.sslCAInfo".to_owned(), file.clone()));
        }
        if let Some(secs) = self.read_timeout_secs {
            config.push(("http.lowSpeedLimit".to_owned(), "1".to_owned()));
            config.push(("http.lowSpeedTime".to_owned(), secs.to_string()));
        }
        config
    }
}

/// `gitConfig`: keys and values rendered; one derived from a secret is refused, since git
/// writes them into `.git/config` in plain text.
fn git_config(ctx: &mut TaskContext) -> Result<Vec<(String, String)>, TaskError> {
    let entries = match ctx.property("gitConfig").cloned() {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(serde_json::Value::Object(map)) => map,
        Some(_) => return Err(property("gitConfig", "expected a map of git settings")),
    };
    let mut out = Vec::new();
    for (key, value) in entries {
        let key = ctx.render_template_rendered(&key)?;
        let value = match value {
            serde_json::Value::String(s) => ctx.render_template_rendered(&s)?,
            serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {
                ctx.render_template_rendered(&value.to_string())?
            }
            _ => {
                return Err(property(
                    "gitConfig",
                    "each value must be a string, a number or a boolean",
                ));
            }
        };
        if key.is_tainted() || value.is_tainted() {
            return Err(property(
                "gitConfig",
                "an entry is derived from a secret; git writes these settings into .git/config \
                 in plain text, so pass credentials in `username` and `password` instead",
            ));
        }
        let valid = key.text.contains('.')
            && !key.text.starts_with('.')
            && !key.text.contains(['=', '\n', ' ']);
        if !valid || value.text.contains('\n') {
            return Err(property(
                "gitConfig",
                "each key must be a git setting such as core.autocrlf (section.name), and no \
                 value may span lines",
            ));
        }
        out.push((key.text, value.text));
    }
    Ok(out)
}

fn text(ctx: &mut TaskContext, name: &str) -> Result<Option<String>, TaskError> {
    Ok(ctx
        .render_string(name)?
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty()))
}

fn flag(ctx: &mut TaskContext, name: &str, default: bool) -> Result<bool, TaskError> {
    Ok(ctx
        .render_string(name)?
        .map_or(default, |value| is_truthy(&value)))
}

fn property(name: &str, message: &str) -> TaskError {
    TaskError::Property {
        property: name.to_owned(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_url_and_scope_to_its_origin() {
        let mut remote = Remote::parse("https://bob:p%40ss%2Bw@git.example.com:8443/a/r.git")
            .ok()
            .unwrap();
        assert_eq!(
            remote.url_without_credentials(),
            "https://git.example.com:8443/a/r.git"
        );
        assert_eq!(remote.origin(), "https://git.example.com:8443/");
        let header = remote.basic_credentials().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(header.as_bytes())
            .unwrap();
        assert_eq!(decoded, b"bob:p@ss+w");
        // The task's own properties win over the URL's.
        remote
            .set_credentials(Some("ann".into()), Some(Zeroizing::new("tok".into())))
            .unwrap();
        let header = remote.basic_credentials().unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(header.as_bytes())
                .unwrap(),
            b"ann:tok"
        );
    }

    #[test]
    fn only_http_urls_are_cloned_and_errors_never_quote_them() {
        for url in [
            "git@github.com:team/secret-token-repo.git",
            "ssh://git@host/secret-token-repo.git",
            "file:///srv/secret-token-repo",
            "not a url secret-token-repo",
        ] {
            let err = Remote::parse(url).err().unwrap();
            assert!(!err.contains("secret-token"), "{err}");
        }
        assert!(Remote::parse("http://127.0.0.1:9/r.git").is_ok());
    }

    #[test]
    fn half_credentials_are_refused() {
        let mut remote = Remote::parse("https://h/r.git").ok().unwrap();
        let err = remote
            .set_credentials(None, Some(Zeroizing::new("tok".into())))
            .unwrap_err();
        assert!(err.to_string().contains("'username'"), "{err}");
        let mut remote = Remote::parse("https://h/r.git").ok().unwrap();
        assert!(remote.set_credentials(Some("u".into()), None).is_err());
        let mut remote = Remote::parse("https://h/r.git").ok().unwrap();
        remote.set_credentials(None, None).unwrap();
        assert!(remote.basic_credentials().is_none());
    }
}
