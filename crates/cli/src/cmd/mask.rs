//! `saker mask`: a filter for any pipeline. Reads stdin, writes stdout with every secret
//! (and its encodings) replaced by `****`, streaming with bounded memory.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use saker_mask::{MaskSetBuilder, mask_stream};

#[derive(Debug, Args)]
pub struct MaskArgs {
    /// A file of secrets: one per line, or a JSON array of strings. Repeatable.
    #[arg(long = "secrets-file", value_name = "FILE")]
    secrets_files: Vec<PathBuf>,
    /// Also mask the base64 values of environment variables with this prefix (as the env
    /// secret backend reads them), e.g. `SECRET_`.
    #[arg(long, value_name = "PREFIX")]
    env_prefix: Option<String>,
    /// Values shorter than this are masked only where they stand alone on a line.
    #[arg(long, default_value_t = 4, value_name = "N")]
    min_length: usize,
}

pub fn run(args: MaskArgs) -> anyhow::Result<ExitCode> {
    if args.secrets_files.is_empty() && args.env_prefix.is_none() {
        anyhow::bail!("no secret to mask: give --secrets-file FILE and/or --env-prefix SECRET_");
    }
    let mut builder = MaskSetBuilder::with_min_len(args.min_length);
    for file in &args.secrets_files {
        for secret in saker_mask::secrets_from_file(file)? {
            builder.add_secret(&secret);
        }
    }
    if let Some(prefix) = &args.env_prefix {
        for secret in saker_mask::secrets_from_env(prefix)? {
            builder.add_secret(&secret);
        }
    }
    for warning in builder.warnings() {
        eprintln!("warning: {warning}");
    }
    let set = builder.build();
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    mask_stream(stdin, stdout, &set).context("masking stdin to stdout")?;
    Ok(ExitCode::SUCCESS)
}
