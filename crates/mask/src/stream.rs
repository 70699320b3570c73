//! Streaming masking for process output: chunks in, masked bytes (or masked
//! lines) out, exactly as if the whole text had been masked at once.
//!
//! The masker holds back only the bytes whose fate is not yet known: a
//! pattern may still start in them. That is less than the longest pattern
//! plus the sampling stride (at most 7 bytes), so memory stays bounded on a
//! line of any length.

use std::fmt;
use std::io::{self, Read, Write};

use zeroize::Zeroizing;

use crate::MASK;
use crate::emit::{Emitter, Occurrence};
use crate::secret::append_wiped;
use crate::set::MaskSet;

/// Input is processed in slices of this size so that a huge chunk does not
/// make the internal buffer grow with it.
const SLICE: usize = 64 * 1024;

/// Masks a stream of bytes given in chunks of any size.
///
/// The concatenation of everything written to `out` by [`push`] and
/// [`finish`] equals [`MaskSet::mask_bytes`] of the concatenated input,
/// whatever the chunking: a secret split across two reads is masked.
///
/// `Debug` prints positions and counts only.
///
/// [`push`]: StreamMasker::push
/// [`finish`]: StreamMasker::finish
pub struct StreamMasker {
    set: MaskSet,
    /// Input not yet emitted; `buf[0]` is at absolute position `base`.
    buf: Zeroizing<Vec<u8>>,
    base: u64,
    /// Next sample position to examine, per index class of the set.
    cursors: Vec<u64>,
    /// Occurrences found but not yet emitted.
    pending: Vec<Occurrence>,
    emitter: Emitter,
}

/// Bytes a set may need to hold back beyond what it has decided.
fn holdback(set: &MaskSet) -> usize {
    set.classes()
        .map(|c| c.max_len() + c.stride())
        .max()
        .unwrap_or(0)
}

impl StreamMasker {
    pub fn new(set: MaskSet) -> Self {
        // Start small: the whole capacity is wiped on drop, and many
        // streams (a task's stderr) carry little.
        let buf = Zeroizing::new(Vec::with_capacity(holdback(&set) + 256));
        let cursors = vec![0; set.classes().count()];
        Self {
            set,
            buf,
            base: 0,
            cursors,
            pending: Vec::new(),
            emitter: Emitter::default(),
        }
    }

    /// Switches to `set` (typically a superset of the current one, after a
    /// new secret was resolved) for everything not yet emitted. Bytes already
    /// written to `out` cannot be taken back.
    pub fn set_mask_set(&mut self, set: MaskSet) {
        self.cursors = set
            .classes()
            .map(|c| self.base.div_ceil(c.stride() as u64) * c.stride() as u64)
            .collect();
        self.set = set;
    }

    /// Number of input bytes held back, not yet written out.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Masks `chunk`, appending to `out` every byte whose masking is settled.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.cursors.is_empty() {
            out.extend_from_slice(chunk);
            self.base += chunk.len() as u64;
            return;
        }
        for piece in chunk.chunks(SLICE) {
            self.push_piece(piece, out);
        }
    }

    fn push_piece(&mut self, piece: &[u8], out: &mut Vec<u8>) {
        append_wiped(&mut self.buf, piece);
        let end = self.base + self.buf.len() as u64;
        let mut settled = end;
        for (class, cursor) in self.set.classes().zip(&mut self.cursors) {
            // A sample is examined once every pattern seen from it would fit
            // in the data, so that none is missed for want of bytes.
            let until = (end + 1).saturating_sub(class.max_len() as u64);
            if until > *cursor {
                *cursor = class.scan(&self.buf, self.base, *cursor, until, &mut self.pending);
            }
            // A byte is settled once every sample that could see an
            // occurrence covering it has been examined.
            settled = settled.min(cursor.saturating_sub(class.stride() as u64 - 1));
        }
        let settled = settled.max(self.base);
        self.emit_until(settled, out);
    }

    fn emit_until(&mut self, to: u64, out: &mut Vec<u8>) {
        self.pending.sort_unstable();
        let used = self
            .emitter
            .emit(&self.buf, self.base, self.base, to, &self.pending, out);
        self.pending.drain(..used);
        let done = usize::try_from(to - self.base)
            .unwrap_or(usize::MAX)
            .min(self.buf.len());
        self.buf.drain(..done);
        self.base += done as u64;
    }

    /// Masks and writes out everything still held back.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        self.flush_all(out);
    }

    /// [`StreamMasker::finish`] for owners that still need the set after.
    fn flush_all(&mut self, out: &mut Vec<u8>) {
        let end = self.base + self.buf.len() as u64;
        for (class, cursor) in self.set.classes().zip(&mut self.cursors) {
            class.scan(&self.buf, self.base, *cursor, end, &mut self.pending);
        }
        self.emit_until(end, out);
    }
}

impl fmt::Debug for StreamMasker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamMasker")
            .field("set", &self.set)
            .field("position", &self.base)
            .field("buffered", &self.buf.len())
            .finish()
    }
}

/// Masks a stream and cuts it into lines, for turning process output into
/// log lines.
///
/// Lines end at `\n` (a `\r` before it is dropped). A line longer than the
/// maximum is cut into pieces of at most that many bytes (at a UTF-8
/// character boundary); cutting happens after masking, so a secret across a
/// cut is masked like any other. A whole line that is exactly a secret too
/// short to be masked inside text becomes [`MASK`]. Lines are decoded as
/// UTF-8, invalid bytes replaced by U+FFFD.
pub struct LineMasker {
    stream: StreamMasker,
    max_line_len: usize,
    line: Vec<u8>,
    scratch: Vec<u8>,
    /// Whether the current line is the continuation of a cut line.
    continued: bool,
}

impl LineMasker {
    /// `max_line_len` is in bytes; values below 16 are raised to 16.
    pub fn new(set: MaskSet, max_line_len: usize) -> Self {
        Self {
            stream: StreamMasker::new(set),
            max_line_len: max_line_len.max(16),
            line: Vec::new(),
            scratch: Vec::new(),
            continued: false,
        }
    }

    /// Feeds a chunk; appends the lines it completes to `lines`.
    pub fn push(&mut self, chunk: &[u8], lines: &mut Vec<String>) {
        let mut scratch = std::mem::take(&mut self.scratch);
        self.stream.push(chunk, &mut scratch);
        self.split_lines(&scratch, lines);
        scratch.clear();
        self.scratch = scratch;
    }

    /// Ends the stream; appends the last lines (an unterminated last line
    /// too) to `lines`.
    pub fn finish(mut self, lines: &mut Vec<String>) {
        let mut scratch = std::mem::take(&mut self.scratch);
        self.stream.flush_all(&mut scratch);
        self.split_lines(&scratch, lines);
        if !self.line.is_empty() {
            self.complete(lines);
        }
    }

    /// Switches to a new mask set for what is not yet emitted; see
    /// [`StreamMasker::set_mask_set`].
    pub fn set_mask_set(&mut self, set: MaskSet) {
        self.stream.set_mask_set(set);
    }

    fn split_lines(&mut self, mut masked: &[u8], lines: &mut Vec<String>) {
        while !masked.is_empty() {
            let (part, newline) = match masked.iter().position(|&b| b == b'\n') {
                Some(i) => (&masked[..i], Some(i)),
                None => (masked, None),
            };
            for piece in part.chunks(self.max_line_len) {
                self.line.extend_from_slice(piece);
                self.cut_long(lines);
            }
            match newline {
                Some(i) => {
                    self.complete(lines);
                    masked = &masked[i + 1..];
                }
                None => masked = &[],
            }
        }
    }

    /// Emits pieces of the current line while it is longer than allowed.
    fn cut_long(&mut self, lines: &mut Vec<String>) {
        while self.line.len() > self.max_line_len {
            let mut cut = self.max_line_len;
            // Back up to the start of a character (at most 3 bytes).
            while cut > self.max_line_len - 3
                && self.line.get(cut).is_some_and(|&b| b & 0xC0 == 0x80)
            {
                cut -= 1;
            }
            let piece: Vec<u8> = self.line.drain(..cut).collect();
            lines.push(String::from_utf8_lossy(&piece).into_owned());
            self.continued = true;
        }
    }

    fn complete(&mut self, lines: &mut Vec<String>) {
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        if !self.continued && self.stream.set.is_short_value(&self.line) {
            lines.push(MASK.to_owned());
        } else {
            lines.push(String::from_utf8_lossy(&self.line).into_owned());
        }
        self.line.clear();
        self.continued = false;
    }
}

impl fmt::Debug for LineMasker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineMasker")
            .field("stream", &self.stream)
            .field("max_line_len", &self.max_line_len)
            .field("line_len", &self.line.len())
            .finish()
    }
}

/// Copies `reader` to `writer`, masking with `set`, in bounded memory.
/// Output is flushed after every read so that a pipeline sees it promptly
/// (minus the bytes held back). Returns the number of bytes written.
pub fn mask_stream<R: Read, W: Write>(
    mut reader: R,
    mut writer: W,
    set: &MaskSet,
) -> io::Result<u64> {
    let mut masker = set.stream();
    let mut input = Zeroizing::new(vec![0u8; SLICE]);
    let mut out = Vec::with_capacity(SLICE + MASK.len());
    let mut written = 0u64;
    loop {
        let n = match reader.read(&mut input) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        masker.push(input.get(..n).unwrap_or(&[]), &mut out);
        writer.write_all(&out)?;
        writer.flush()?;
        written += out.len() as u64;
        out.clear();
    }
    masker.finish(&mut out);
    writer.write_all(&out)?;
    writer.flush()?;
    Ok(written + out.len() as u64)
}
