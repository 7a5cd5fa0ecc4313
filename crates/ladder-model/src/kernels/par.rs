//! Fixed-partition parallel helpers. Every parallel loop in the crate cuts its work into ranges
//! that depend only on the problem size and the rayon pool's thread count, and each range writes
//! disjoint outputs, so results are bitwise reproducible for a fixed thread count.

use std::ops::Range;

use rayon::prelude::*;

/// Threads of the current rayon pool (the caller configures it).
pub(crate) fn threads() -> usize {
    rayon::current_num_threads().max(1)
}

/// The `i`-th of `parts` near-equal contiguous ranges of `0..n` (the first `n % parts` get one more).
pub(crate) fn split(n: usize, parts: usize, i: usize) -> Range<usize> {
    let q = n / parts;
    let r = n % parts;
    let start = i * q + i.min(r);
    start..start + q + usize::from(i < r)
}

/// Like [`split`] but range boundaries are multiples of `align` (except the end of the last).
pub(crate) fn split_aligned(n: usize, parts: usize, i: usize, align: usize) -> Range<usize> {
    let blocks = n.div_ceil(align);
    let r = split(blocks, parts, i);
    (r.start * align).min(n)..(r.end * align).min(n)
}

/// Calls `f(range)` for `parts` ranges of `0..n` in parallel (boundaries multiples of `align`).
pub(crate) fn for_ranges(
    n: usize,
    parts: usize,
    align: usize,
    f: impl Fn(Range<usize>) + Sync + Send,
) {
    let parts = parts.max(1);
    if parts == 1 {
        f(0..n);
        return;
    }
    (0..parts).into_par_iter().for_each(|i| {
        let r = split_aligned(n, parts, i, align);
        if !r.is_empty() {
            f(r)
        }
    });
}

/// Rows per parallel chunk for row-wise kernels whose per-row result does not depend on the
/// chunking: ~4 chunks per thread balance load on a shared machine.
pub(crate) fn rows_per_chunk(rows: usize) -> usize {
    rows.div_ceil(4 * threads()).max(1)
}

/// A raw pointer that may cross threads. Users guarantee that concurrent tasks touch disjoint
/// elements through it.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub *mut f32);

impl SendPtr {
    /// The pointer. A method (not `.0`) so closures capture the whole `Send` wrapper.
    #[inline(always)]
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}
// SAFETY: only used to hand disjoint regions of one buffer to parallel tasks (see each use).
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}

/// A raw const pointer that may cross threads.
#[derive(Clone, Copy)]
pub(crate) struct SendConstPtr(pub *const f32);
// SAFETY: read-only access to data that outlives the parallel region.
unsafe impl Send for SendConstPtr {}
// SAFETY: as above.
unsafe impl Sync for SendConstPtr {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_range_exactly() {
        for n in [0, 1, 7, 64, 1000] {
            for parts in 1..6 {
                let mut next = 0;
                for i in 0..parts {
                    let r = split(n, parts, i);
                    assert_eq!(r.start, next);
                    next = r.end;
                }
                assert_eq!(next, n);
                let mut next = 0;
                for i in 0..parts {
                    let r = split_aligned(n, parts, i, 8);
                    assert_eq!(r.start, next);
                    assert!(r.start.is_multiple_of(8) || r.is_empty());
                    next = r.end.max(next);
                }
                assert_eq!(next, n);
            }
        }
    }
}
