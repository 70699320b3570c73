//! Turning occurrences into output: every byte covered by an occurrence is
//! hidden, and each maximal run of hidden bytes becomes one [`MASK`].

use crate::MASK;

/// An occurrence of a pattern: absolute `[start, end)` positions in the text.
pub(crate) type Occurrence = (u64, u64);

/// Writes text with masked runs replaced, across calls: bytes covered by any
/// occurrence are hidden, and each maximal run of hidden bytes (adjacent or
/// overlapping occurrences included) becomes one [`MASK`].
#[derive(Default)]
pub(crate) struct Emitter {
    cover_end: u64,
    in_run: bool,
}

impl Emitter {
    /// Emits absolute positions `[from, to)` of `hay` (which starts at `base`)
    /// using `occ`, sorted by start. Returns how many occurrences were used
    /// (all those starting before `to`).
    pub(crate) fn emit(
        &mut self,
        hay: &[u8],
        base: u64,
        from: u64,
        to: u64,
        occ: &[Occurrence],
        out: &mut Vec<u8>,
    ) -> usize {
        let rel = |abs: u64| usize::try_from(abs.saturating_sub(base)).unwrap_or(usize::MAX);
        let mut pos = from;
        let mut k = 0;
        while pos < to {
            while let Some(&(s, e)) = occ.get(k) {
                if s > pos {
                    break;
                }
                self.cover_end = self.cover_end.max(e);
                k += 1;
            }
            if pos < self.cover_end {
                if !self.in_run {
                    out.extend_from_slice(MASK.as_bytes());
                    self.in_run = true;
                }
                pos = self.cover_end.min(to);
            } else {
                let next = occ.get(k).map_or(to, |&(s, _)| s.min(to));
                out.extend_from_slice(hay.get(rel(pos)..rel(next)).unwrap_or(&[]));
                self.in_run = false;
                pos = next;
            }
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjacent_and_overlapping_runs_collapse() {
        let hay = b"aaSECRETSECRETbb";
        let mut out = Vec::new();
        let mut em = Emitter::default();
        let used = em.emit(hay, 0, 0, hay.len() as u64, &[(2, 8), (8, 14)], &mut out);
        assert_eq!(used, 2);
        assert_eq!(out, b"aa****bb");

        let mut out = Vec::new();
        let used =
            Emitter::default().emit(b"0123456789", 0, 0, 10, &[(1, 5), (2, 4), (3, 7)], &mut out);
        assert_eq!(used, 3);
        assert_eq!(out, b"0****789");
    }

    #[test]
    fn runs_continue_across_calls() {
        let hay = b"ab--cd";
        let occ = [(2, 4)];
        let mut em = Emitter::default();
        let mut out = Vec::new();
        // Emit in three pieces; the hidden run spans the first cut.
        let used = em.emit(hay, 0, 0, 3, &occ, &mut out);
        assert_eq!(used, 1);
        em.emit(hay, 0, 3, 4, &[], &mut out);
        em.emit(hay, 0, 4, 6, &[], &mut out);
        assert_eq!(out, b"ab****cd");
    }
}
