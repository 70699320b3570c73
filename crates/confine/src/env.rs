//! The environment of a task process: an allowlist, never Saker's environment minus a few
//! prefixes (any variable Saker holds may carry a password, a key or a token).

/// Saker's variables a task process inherits, besides `LC_*`.
const INHERITED: &[&str] = &["PATH", "LANG", "LANGUAGE", "TZ"];

/// When Saker itself has no `PATH`.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment of a task process: the allowlisted variables of `saker_env`, `HOME` and
/// `WORKING_DIR` set to the task's working directory as the task sees it, then the task's own
/// `env` (which may override any of them).
pub fn task_environment(
    saker_env: impl IntoIterator<Item = (String, String)>,
    working_dir: &str,
    task_env: &[(String, String)],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = saker_env
        .into_iter()
        .filter(|(k, _)| INHERITED.contains(&k.as_str()) || k.starts_with("LC_"))
        .collect();
    if !out.iter().any(|(k, _)| k == "PATH") {
        out.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    out.push(("HOME".into(), working_dir.to_owned()));
    out.push(("WORKING_DIR".into(), working_dir.to_owned()));
    out.extend(task_env.iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allowlist_and_the_task_env_pass() {
        let saker = [
            ("PATH", "/usr/bin"),
            ("LC_ALL", "C.UTF-8"),
            ("SAKER_ENCRYPTION_SECRET_KEY", "k"),
            ("SECRET_API", "s"),
            ("AWS_SECRET_ACCESS_KEY", "a"),
            ("HOME", "/root"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let env = task_environment(saker, "/work", &[("TOKEN".into(), "t".into())]);
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["PATH", "LC_ALL", "HOME", "WORKING_DIR", "TOKEN"],
            "{env:?}"
        );
        assert!(env.contains(&("HOME".into(), "/work".into())));
    }

    #[test]
    fn a_missing_path_gets_a_default() {
        let env = task_environment(Vec::new(), "/w", &[]);
        assert!(
            env.iter()
                .any(|(k, v)| k == "PATH" && v.contains("/usr/bin"))
        );
    }
}
