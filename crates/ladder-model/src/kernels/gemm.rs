//! Thin wrappers over the `gemm` crate: strided operands, a single-threaded product, and a
//! parallel product that splits the output into one block per thread.
//!
//! `gemm`'s own threading loses on weight-gradient shapes (BENCH-ANCHORS.md); splitting the
//! output ourselves gives each thread one single-threaded `gemm` call on a fixed block, which also
//! keeps results bitwise reproducible for a fixed thread count.

use super::par::{for_ranges, threads, SendConstPtr, SendPtr};

/// A strided read-only matrix operand: element (i, j) at `ptr + i·rs + j·cs`.
#[derive(Clone, Copy)]
pub(crate) struct Mat {
    pub ptr: SendConstPtr,
    pub rs: isize,
    pub cs: isize,
}

impl Mat {
    pub(crate) fn new(ptr: *const f32, rs: usize, cs: usize) -> Self {
        Mat {
            ptr: SendConstPtr(ptr),
            rs: rs as isize,
            cs: cs as isize,
        }
    }

    /// The operand starting at element (i, j).
    fn at(self, i: usize, j: usize) -> Self {
        // SAFETY (of later use): callers only offset within the operand's extent.
        let off = i as isize * self.rs + j as isize * self.cs;
        Mat {
            ptr: SendConstPtr(self.ptr.0.wrapping_offset(off)),
            ..self
        }
    }
}

/// dst (m×n, row stride `dst_rs`, unit column stride) = [dst +] alpha·a·b, single-threaded.
///
/// # Safety
/// `dst`, `a` (m×k) and `b` (k×n) must be valid for their extents, and `dst` must not overlap
/// `a` or `b` nor be written concurrently by anyone else.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_st(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    a: Mat,
    b: Mat,
    alpha: f32,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                // SAFETY: row i of dst is valid for n elements (caller contract).
                unsafe { std::slice::from_raw_parts_mut(dst.add(i * dst_rs), n).fill(0.0) };
            }
        }
        return;
    }
    // SAFETY: forwarded caller contract. gemm computes dst := 1·dst + alpha·a·b (dst read only
    // when `accumulate`).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            a.ptr.0,
            a.cs,
            a.rs,
            b.ptr.0,
            b.cs,
            b.rs,
            1.0,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// Below this many multiply-adds a product runs on one thread (splitting costs more).
const PAR_MIN_WORK: usize = 1 << 18;

/// Like [`gemm_st`], with the output split over the rayon pool: one block of rows (or of columns,
/// whichever dimension is larger) per thread.
///
/// # Safety
/// As [`gemm_st`].
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_par(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    a: Mat,
    b: Mat,
    alpha: f32,
) {
    let nt = threads();
    if nt == 1 || m * n * k < PAR_MIN_WORK {
        // SAFETY: forwarded.
        unsafe { gemm_st(m, n, k, dst, dst_rs, accumulate, a, b, alpha) };
        return;
    }
    let dst = SendPtr(dst);
    if m >= n {
        for_ranges(m, nt, 8, |r| {
            // SAFETY: rows r of dst are written by this task only.
            unsafe {
                gemm_st(
                    r.len(),
                    n,
                    k,
                    dst.get().add(r.start * dst_rs),
                    dst_rs,
                    accumulate,
                    a.at(r.start, 0),
                    b,
                    alpha,
                )
            };
        });
    } else {
        for_ranges(n, nt, 32, |r| {
            // SAFETY: columns r of dst are written by this task only.
            unsafe {
                gemm_st(
                    m,
                    r.len(),
                    k,
                    dst.get().add(r.start),
                    dst_rs,
                    accumulate,
                    a,
                    b.at(0, r.start),
                    alpha,
                )
            };
        });
    }
}
