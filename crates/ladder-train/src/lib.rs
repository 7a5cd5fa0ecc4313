//! `ladder_train`: everything between a data directory and a trained, checked, exported model.
//!
//! # Brief overview
//! - [`config`]: the TOML schema of DESIGN §7, presets, `--set` overrides, validation.
//! - [`schedule`]: cosine and WSD learning-rate schedules with linear warm-up.
//! - [`trainer`]: the training loop ([`train`]): micro-batches, gradient accumulation, clipping,
//!   AdamW, periodic evaluation and checkpoints, `metrics.jsonl` and `summary.json`.
//! - [`comm`]: communicators for data-parallel training (one process; MPI behind the `mpi`
//!   feature): rank, world size, all-reduce of the gradient buffer.
//! - [`checkpoint`]: atomic checkpoints in Hugging Face GPT-2 tensor names.
//! - [`resume`], [`health`], [`inject`], [`supervisor`]: surviving faults — bitwise resume from the
//!   newest good checkpoint, the health monitor and its rollbacks, fault injection, and a parent
//!   process that restarts a dead trainer.
//! - [`sdc`]: silent-data-corruption checks: parameter checksums compared across ranks, a
//!   step computed twice on one process.
//! - [`run`]: opening a finished run directory; [`run::evaluate_run`] for `ladder eval`.
//! - [`eval`]: validation loss with its standard error (batch means over contiguous blocks).
//! - [`sample`]: autoregressive generation with a KV cache.
//! - [`export`]: a directory `transformers` loads as `GPT2LMHeadModel`.
//! - [`debug`]: loss, logits and gradients of one batch, for checks against PyTorch.
//! - [`profile`], [`machine`]: per-op time, FLOPs and bytes of a step on this machine's roofline.
//! - [`bench`]: full training steps on random tokens: ms/step, tok/s, GFLOP/s, MFU, peak RSS.
//! - [`metrics`], [`perf`], [`fsutil`]: the files a run writes, the GEMM peak and RSS, atomic writes.
//!
//! The crate does no terminal output: progress reaches the caller through [`trainer::Observer`].

#![deny(missing_docs)]

pub mod bench;
pub mod checkpoint;
pub mod comm;
pub mod config;
pub mod debug;
pub mod doctor;
mod error;
pub mod eval;
pub mod export;
pub mod fsutil;
pub mod health;
pub mod inject;
mod layerlog;
pub mod machine;
pub mod metrics;
pub mod perf;
pub mod planted;
pub mod profile;
pub mod resume;
pub mod run;
pub mod sample;
pub mod schedule;
pub mod sdc;
pub mod supervisor;
pub mod trainer;

pub use config::{Config, Preset};
pub use error::{Error, Result};
pub use metrics::{StepRecord, Summary};
pub use trainer::{train, Observer, TrainOptions};
