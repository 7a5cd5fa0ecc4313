//! Data for ladder: tokenizer training, token shards, training and validation samplers, and a
//! synthetic source whose Bayes-optimal loss is known exactly.
//!
//! # Brief overview
//!
//! A **data directory** (DESIGN §3) holds `tokenizer.json`, `train.bin`, `val.bin` and
//! `meta.json`. Two commands make one:
//! - [`prepare`] trains a byte-level BPE tokenizer on text files and tokenizes them;
//! - [`synth::write_synth`] generates the synthetic source of DESIGN §8 and records its entropy.
//!
//! Readers use [`Meta::load`], [`TokenShard`] (memory-mapped, checked strictly),
//! [`TrainSampler`] (training sequence `i` is a pure function of `(shard, T, seed, i)`),
//! [`val_batches`] and [`load_tokenizer`].
//!
//! ```no_run
//! use ladder_data::{Meta, Split, TrainSampler};
//! # fn main() -> ladder_data::Result<()> {
//! let dir = std::path::Path::new("data/synth");
//! let meta = Meta::load(dir)?;
//! let mut sampler = TrainSampler::new(meta.open_shard(dir, Split::Train)?, 256, 0)?;
//! let (mut x, mut y) = (vec![0u32; 256], vec![0u32; 256]);
//! sampler.sequence(0, &mut x, &mut y);
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod docs;
mod error;
mod fsutil;
mod input;
mod meta;
mod parquet_src;
mod prepare;
mod pretok;
mod progress;
mod rng;
mod sampler;
mod shard;
mod split;
pub mod synth;
mod tokenizer;
mod verify;

pub use docs::{ReadOptions, Skipped};
pub use error::{Error, Result};
pub use fsutil::{sha256_file, write_atomic};
pub use input::{detect_format, Compression, Format};
pub use meta::{
    created_by, Meta, PrefixEntropy, Split, SynthMeta, TextMeta, WindowBound, META_FILE,
    META_VERSION, TOKENIZER_FILE,
};
pub use prepare::{prepare, PrepareConfig};
pub use progress::{NoProgress, Progress, Unit};
pub use sampler::{val_batches, TrainSampler};
pub use shard::{
    checksum, token_width, write_shard, ShardWriter, TokenShard, HEADER_LEN, MAGIC, VERSION,
};
pub use synth::SynthConfig;
pub use tokenizer::{load_tokenizer, save_tokenizer, synth_tokenizer, EOT, MIN_BPE_VOCAB};
pub use verify::{verify_hashes, VERIFY_CACHE_FILE};

/// Re-exported so callers use the same `tokenizers` version as this crate.
pub use tokenizers;
