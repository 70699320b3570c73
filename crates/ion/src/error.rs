//! What can go wrong reading or writing an Ion file.

/// An Ion file that could not be read or written. Messages name the row (1-based) and say
/// what to change; they never quote the row's values, which may be secret.
#[derive(Debug, thiserror::Error)]
pub enum IonError {
    #[error("reading or writing the Ion file failed: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "row {row} is not valid Ion (text or binary); check the file is one of Kestra's Ion files"
    )]
    Syntax { row: u64 },
    #[error("the Ion file is larger than the limit of {limit} bytes; split it or raise the limit")]
    TooLarge { limit: u64 },
    #[error(
        "the file is binary Ion, which is not read here; write it as Ion text (Kestra's own format)"
    )]
    Binary,
    #[error("row {row} nests deeper than the limit of {limit} levels")]
    TooDeep { row: u64, limit: usize },
    /// Found by scanning the text ahead of the parser, which reads ahead of the row it
    /// returns: which row it is in is not known.
    #[error("the file holds a row nesting far deeper than the limit of {limit} levels")]
    FileTooDeep { limit: usize },
    #[error("row {row} holds a number JSON cannot carry ({what}); write it as a string instead")]
    Unrepresentable { row: u64, what: &'static str },
}
