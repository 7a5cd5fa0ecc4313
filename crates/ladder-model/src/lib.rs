//! ladder_model: the GPT-2 model of DESIGN §2 and a Llama-style family (Hugging Face
//! `LlamaForCausalLM`) on the CPU: config, architecture specs, flat parameter layout,
//! forward/backward kernels behind a backend seam, AdamW. No file or network I/O.
//! `docs/architecture.md` describes the seams.
//!
//! # Brief overview
//! - [`ModelConfig`] (family and dimensions) and [`ArchSpec`] (the family's tensors: roles,
//!   names, shapes, init; written once) give [`ParamLayout`]: one flat `f32` buffer.
//! - [`init_params`]: deterministic initialisation.
//! - [`Model`]: what trainers and samplers use; [`Backend`] / [`Cpu`]: the kernels behind it.
//! - [`Faults`]: the one seam for test-only perturbations (planted bugs).
//! - [`Workspace`]: preallocated activations for one (B, T); [`Workspace::forward_backward`] is
//!   the training step's model part and allocates nothing.
//! - [`AdamW`], [`grad_norm`], [`clip_grad_norm`]: single passes over the flat buffers.
//! - [`KvCache`]: incremental decoding for sampling.
//!
//! Threads: the kernels run on the current rayon pool (the caller sets its size) and are
//! deterministic for a fixed thread count: work is cut into fixed partitions and every
//! reduction runs in a fixed order.
#![deny(missing_docs)]

mod backend;
mod block;
mod config;
mod error;
mod faults;
pub mod kernels;
mod kvcache;
mod model;
mod optim;
mod params;
mod spec;
mod stats;
mod workspace;

pub use backend::{AdamWHyper, Backend, Cpu};
pub use config::{ModelConfig, DEFAULT_NORM_EPS, DEFAULT_ROPE_THETA};
pub use error::{Error, Result};
pub use faults::Faults;
pub use kvcache::KvCache;
pub use model::Model;
pub use optim::{clip_grad_norm, grad_norm, AdamW, Optimizer};
pub use params::{init_params, ParamLayout, TensorSpec};
pub use spec::{
    is_block_group, Arch, ArchSpec, Init, NormKind, Place, Role, TensorDef, BLOCK_PREFIX,
};
pub use stats::{layer_of, layer_stats, LayerStat};
pub use workspace::Workspace;
