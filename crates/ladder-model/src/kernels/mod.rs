//! Forward and backward kernels, one file per layer, llm.c style: forward and backward side by
//! side; backward ADDS (`+=`) into its gradient outputs unless its doc says otherwise.
//! Arguments: outputs, then saved state, then inputs, then dimensions.
//!
//! Dimension key for the whole crate: B batch, T sequence length, C channels, V vocabulary
//! (Vp padded to a multiple of 64), L layers, NH heads, HS head size = C / NH, N = B·T rows.
//!
//! These are building blocks for [`crate::Workspace`] and [`crate::KvCache`]; shapes are
//! checked with `assert!` on entry (O(1) against O(N·C) work, and a shape bug is otherwise
//! silent). Every kernel runs on the current rayon pool, deterministically for a fixed thread
//! count. [`reference`] holds the naive f64 versions the tests compare against.

pub mod attention;
pub mod crossentropy;
pub mod embedding;
pub mod gelu;
pub(crate) mod gemm;
pub mod layernorm;
pub mod matmul;
pub(crate) mod par;
pub mod reference;
pub mod residual;
pub mod rmsnorm;
pub mod rope;
pub(crate) mod simd;
pub mod swiglu;
pub mod testing;
