//! Runtime CPU dispatch for the hand-written (non-GEMM) kernels, and vectorisable math.
//!
//! Release builds target baseline x86-64 (SSE2), so `multiversion!` compiles a kernel body twice:
//! once plain and once with AVX2 enabled, chosen at run time (the `gemm` crate does the same
//! for its microkernels). Bodies are written as loops over chunks of 8 with explicit lane
//! accumulators: LLVM vectorises those without fast-math, and the reduction order is fixed by
//! the source (so both versions give bitwise identical results). No FMA contraction happens
//! because Rust never fuses `a * b + c` on its own.

/// Whether the AVX2 versions may run (std caches the CPUID query).
#[inline]
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Defines a function whose body is compiled for baseline and for AVX2, dispatched at run time.
/// Arguments must be plain (no generics, no `impl Trait`).
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn inner($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? { inner($($arg),*) }
                if $crate::kernels::simd::has_avx2() {
                    // SAFETY: the CPU supports AVX2 (checked at run time just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            inner($($arg),*)
        }
    };
}
pub(crate) use multiversion;

/// Sum of `x` with 8 lane accumulators, combined in a fixed order.
#[inline(always)]
pub(crate) fn sum(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut it = x.chunks_exact(8);
    for c in &mut it {
        for j in 0..8 {
            acc[j] += c[j];
        }
    }
    for (j, &v) in it.remainder().iter().enumerate() {
        acc[j] += v;
    }
    hsum(acc)
}

/// Dot product with 8 lane accumulators.
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let mut ia = a.chunks_exact(8);
    let mut ib = b.chunks_exact(8);
    for (x, y) in (&mut ia).zip(&mut ib) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    for (j, (&x, &y)) in ia.remainder().iter().zip(ib.remainder()).enumerate() {
        acc[j] += x * y;
    }
    hsum(acc)
}

/// Maximum of `x` (`-inf` for an empty slice; NaN-ignoring like `f32::max`).
#[inline(always)]
pub(crate) fn max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let mut it = x.chunks_exact(8);
    for c in &mut it {
        for j in 0..8 {
            acc[j] = if c[j] > acc[j] { c[j] } else { acc[j] };
        }
    }
    for (j, &v) in it.remainder().iter().enumerate() {
        acc[j] = if v > acc[j] { v } else { acc[j] };
    }
    acc.iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m })
}

/// Pairwise sum of 8 lanes in a fixed order.
#[inline(always)]
pub(crate) fn hsum(a: [f32; 8]) -> f32 {
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

/// e^x in f32, branch-free so loops over it vectorise. Max relative error ~2e-7 on the
/// clamped range (tested below). Inputs are clamped to [-87, 88]: outputs stay finite and
/// normal (e^-87 ≈ 1.6e-38 stands in for smaller values, harmless in softmax sums); NaN in
/// gives NaN out.
///
/// Method (Cephes `expf`): x = n·ln2 + r with n = round(x/ln2) and |r| ≤ ln2/2, e^r by a
/// degree-7 polynomial, 2^n assembled in the exponent bits.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer in the low bits
    let x = if x < -87.0 { -87.0 } else { x };
    let x = if x > 88.0 { 88.0 } else { x };
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    // ln2 split in a part exact in f32 and a remainder (Cody–Waite).
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    // bits(t) = bits(MAGIC) + n; 2^n has exponent field n + 127.
    let e = t.to_bits().wrapping_sub(0x4B40_0000).wrapping_add(127) << 23;
    y * f32::from_bits(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_f64_to_a_few_ulp() {
        let mut worst = 0.0f64;
        let mut x = -87.0f64;
        while x < 88.0 {
            let got = exp(x as f32) as f64;
            let want = (x as f32 as f64).exp();
            worst = worst.max(((got - want) / want).abs());
            x += 0.000_731;
        }
        assert!(worst < 3e-7, "worst relative error {worst:e}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) < 1e-37 && exp(-1000.0) >= 0.0);
        assert!(exp(1000.0).is_finite());
        assert!(exp(f32::NAN).is_nan());
    }

    multiversion! {
        fn sum_mv(x: &[f32]) -> f32 { sum(x) }
    }

    #[test]
    fn reductions_are_exact_on_small_integers() {
        let x: Vec<f32> = (0..37).map(|i| i as f32).collect();
        assert_eq!(sum(&x), 666.0);
        assert_eq!(sum_mv(&x), 666.0);
        assert_eq!(dot(&x, &x), (0..37).map(|i| (i * i) as f32).sum::<f32>());
        assert_eq!(max(&x), 36.0);
        assert_eq!(max(&[]), f32::NEG_INFINITY);
    }
}
