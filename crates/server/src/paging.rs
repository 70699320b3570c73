//! Kestra's paging parameters, `page` (from 1) and `size`, as the search endpoints read them:
//! one rule for where a page starts and how long it is.

/// A page's size when none is asked for.
const DEFAULT_SIZE: u32 = 25;
/// The largest page served.
const MAX_SIZE: u32 = 500;

/// Which items one page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// How many, 1 to 500.
    pub size: u32,
    /// How many matching items come before the page.
    pub offset: u32,
}

/// The window of `page` (from 1; 0 is taken as 1) of `size` items (default 25, kept within
/// 1 to 500). A page far beyond the end is an empty one, never an overflow.
pub(crate) fn window(page: Option<u32>, size: Option<u32>) -> Window {
    let size = size.unwrap_or(DEFAULT_SIZE).clamp(1, MAX_SIZE);
    let offset = page
        .unwrap_or(1)
        .max(1)
        .saturating_sub(1)
        .saturating_mul(size);
    Window { size, offset }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_start_at_one_and_sizes_stay_in_bounds() {
        assert_eq!(
            window(None, None),
            Window {
                size: 25,
                offset: 0
            }
        );
        assert_eq!(
            window(Some(3), Some(10)),
            Window {
                size: 10,
                offset: 20
            }
        );
        assert_eq!(window(Some(0), Some(0)), Window { size: 1, offset: 0 });
        assert_eq!(
            window(Some(2), Some(10_000)),
            Window {
                size: 500,
                offset: 500
            }
        );
        assert_eq!(window(Some(u32::MAX), Some(500)).offset, u32::MAX);
    }
}
