//! ladder_model: the GPT-2 model of DESIGN §2 on the CPU: config, flat parameter layout,
//! forward/backward kernels, AdamW. No file or network I/O.
//!
//! # Brief overview
//! - [`ModelConfig`] and [`ParamLayout`]: shapes, Hugging Face tensor names, one flat `f32` buffer.
//! - [`init_params`]: deterministic initialisation.
//! - [`Workspace`]: preallocated activations for one (B, T); [`Workspace::forward_backward`] is
//!   the training step's model part and allocates nothing.
//! - [`AdamW`], [`grad_norm`], [`clip_grad_norm`]: single passes over the flat buffers.
//! - [`KvCache`]: incremental decoding for sampling.
//!
//! Threads: the kernels run on the current rayon pool (the caller sets its size) and are
//! deterministic for a fixed thread count: work is cut into fixed partitions and every
//! reduction runs in a fixed order.
#![deny(missing_docs)]

mod config;
mod error;
pub mod kernels;
mod kvcache;
mod optim;
mod params;
mod stats;
mod workspace;

pub use config::ModelConfig;
pub use error::{Error, Result};
pub use kvcache::KvCache;
pub use optim::{clip_grad_norm, grad_norm, AdamW};
pub use params::{init_params, init_params_with_std, round_to_bf16, ParamLayout, TensorSpec};
pub use stats::{layer_of, layer_stats, LayerStat};
pub use workspace::Workspace;
