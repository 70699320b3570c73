//! Reading a secret typed or piped by a person (a secret value, a password): from stdin
//! when it is piped, else from a hidden prompt; never from the command line.

use std::io::{IsTerminal as _, Read as _};

use anyhow::{Context as _, anyhow};
use zeroize::Zeroizing;

/// The text on stdin (without one trailing line break) or typed at a hidden `prompt`.
pub fn read_hidden(prompt: &str) -> anyhow::Result<Zeroizing<String>> {
    let stdin = std::io::stdin();
    let mut value = if stdin.is_terminal() {
        Zeroizing::new(rpassword::prompt_password(prompt).context("cannot read from the terminal")?)
    } else {
        let mut bytes = Zeroizing::new(Vec::new());
        stdin
            .lock()
            .read_to_end(&mut bytes)
            .context("cannot read stdin")?;
        let text = String::from_utf8(std::mem::take(&mut *bytes)).map_err(|err| {
            drop(Zeroizing::new(err.into_bytes()));
            anyhow!("stdin is not UTF-8 text")
        })?;
        Zeroizing::new(text)
    };
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    Ok(value)
}
