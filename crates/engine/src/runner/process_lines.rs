//! The lines a process prints (a script task's, `ssh`'s), read for the log: each line of a
//! stream sent on a channel, a line longer than [`MAX_LINE_BYTES`] masked as a stream and
//! only then cut into pieces, so one endless line cannot exhaust memory and a secret across
//! a cut is still masked (cut first, it would reach the logger as two halves that neither
//! match it).

use saker_mask::{LineMasker, MaskSet};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncReadExt as _, BufReader};
use tokio::sync::mpsc;

/// A line longer than this is logged in pieces.
pub(super) const MAX_LINE_BYTES: usize = 64 * 1024;

/// One line of a process's output.
pub(super) struct Line {
    pub is_err: bool,
    pub text: String,
    /// Already masked: a piece of an over-long line. Never read as an outputs line.
    pub piece: bool,
    /// The end of a line of the process: true for a whole line and for the last piece of an
    /// over-long one (what a task counts as the process's lines).
    pub ends_line: bool,
}

/// Sends each line of `stream` to `tx` (see the module documentation); pieces are masked
/// with `masks`, whole lines are not (the logger masks them).
pub(super) async fn read_lines(
    stream: impl AsyncRead + Unpin,
    is_err: bool,
    tx: mpsc::Sender<Line>,
    masks: MaskSet,
) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if read_piece(&mut reader, &mut buf).await == 0 {
            return;
        }
        let cut = buf.len() == MAX_LINE_BYTES && buf.last() != Some(&b'\n');
        if !cut {
            while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                buf.pop();
            }
            let line = Line {
                is_err,
                text: String::from_utf8_lossy(&buf).into_owned(),
                piece: false,
                ends_line: true,
            };
            if tx.send(line).await.is_err() {
                return;
            }
            continue;
        }
        let mut masker = LineMasker::new(masks.clone(), MAX_LINE_BYTES);
        let mut pieces = Vec::new();
        // One piece held back, so that the last one sent can say it ends the line.
        let mut held: Option<String> = None;
        masker.push(&buf, &mut pieces);
        loop {
            for text in pieces.drain(..) {
                if let Some(previous) = held.replace(text)
                    && !send_piece(&tx, is_err, previous, false).await
                {
                    return;
                }
            }
            buf.clear();
            if read_piece(&mut reader, &mut buf).await == 0 {
                break;
            }
            masker.push(&buf, &mut pieces);
            if buf.last() == Some(&b'\n') {
                break;
            }
        }
        masker.finish(&mut pieces);
        for text in pieces {
            if let Some(previous) = held.replace(text)
                && !send_piece(&tx, is_err, previous, false).await
            {
                return;
            }
        }
        if let Some(last) = held
            && !send_piece(&tx, is_err, last, true).await
        {
            return;
        }
    }
}

/// Sends one piece; false once nobody listens.
async fn send_piece(tx: &mpsc::Sender<Line>, is_err: bool, text: String, ends_line: bool) -> bool {
    tx.send(Line {
        is_err,
        text,
        piece: true,
        ends_line,
    })
    .await
    .is_ok()
}

/// Reads up to the next newline (included) or [`MAX_LINE_BYTES`], whichever comes first;
/// 0 at the end of the stream or on a read error.
async fn read_piece(reader: &mut (impl AsyncBufRead + Unpin), buf: &mut Vec<u8>) -> usize {
    let mut limited = (&mut *reader).take(MAX_LINE_BYTES as u64);
    tokio::io::AsyncBufReadExt::read_until(&mut limited, b'\n', buf)
        .await
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each line sent: text, piece, ends_line.
    fn lines_of(input: Vec<u8>, secret: &str) -> Vec<(String, bool, bool)> {
        let mut builder = saker_mask::MaskSetBuilder::new();
        builder.add_labeled("S", secret);
        let (tx, mut rx) = mpsc::channel(1024);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(read_lines(&input[..], false, tx, builder.build()));
        let mut out = Vec::new();
        while let Ok(line) = rx.try_recv() {
            out.push((line.text, line.piece, line.ends_line));
        }
        out
    }

    #[test]
    fn a_secret_across_the_cut_of_a_long_line_is_masked() {
        let secret = "s3cr3t-across-the-cut-42";
        let mut input = vec![b'a'; MAX_LINE_BYTES - 10];
        input.extend_from_slice(secret.as_bytes());
        input.extend_from_slice(&[b'b'; 100]);
        input.extend_from_slice(b"\r\nshort line\n::{\"outputs\":{\"k\":1}}::\n");
        let lines = lines_of(input, secret);
        let pieces: Vec<_> = lines.iter().filter(|(_, piece, _)| *piece).collect();
        assert!(pieces.len() >= 2, "{}", pieces.len());
        let joined: String = pieces.iter().map(|(t, _, _)| t.as_str()).collect();
        let expected = format!("{}****{}", "a".repeat(MAX_LINE_BYTES - 10), "b".repeat(100));
        assert_eq!(joined, expected);
        assert!(pieces.iter().all(|(t, _, _)| t.len() <= MAX_LINE_BYTES));
        // Only the last piece ends the line: three lines of the process in all.
        assert_eq!(
            pieces.iter().map(|(_, _, ends)| *ends).collect::<Vec<_>>(),
            [vec![false; pieces.len() - 1], vec![true]].concat()
        );
        assert_eq!(lines.iter().filter(|(_, _, ends)| *ends).count(), 3);
        // Lines after it are whole lines again, and the outputs protocol still works.
        let rest: Vec<_> = lines.iter().filter(|(_, piece, _)| !*piece).collect();
        assert_eq!(rest[0].0, "short line");
        assert!(super::super::protocol::parse_line(&rest[1].0).is_some());
    }

    #[test]
    fn an_unterminated_long_last_line_is_flushed_masked() {
        let secret = "tail-secret-value-9876";
        let mut input = vec![b'c'; MAX_LINE_BYTES + 5];
        input.extend_from_slice(secret.as_bytes());
        let lines = lines_of(input, secret);
        let joined: String = lines.iter().map(|(t, _, _)| t.as_str()).collect();
        assert_eq!(joined, format!("{}****", "c".repeat(MAX_LINE_BYTES + 5)));
        assert_eq!(lines.iter().filter(|(_, _, ends)| *ends).count(), 1);
    }
}
