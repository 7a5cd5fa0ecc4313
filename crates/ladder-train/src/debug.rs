//! `ladder debug grads`: loss, logits and every parameter gradient of one batch, for comparison
//! with PyTorch (`../shared/reference/hf_check.py` states the contract):
//! - input: `B·(T+1)` little-endian u32 token ids, row-major; inputs are `[:, :T]`, targets `[:, 1:]`;
//! - output safetensors: `loss` (f32, shape `[1]`), `logits` (`[B, T, V]`, real vocabulary), and for
//!   each parameter `d(mean CE)/dθ` under its HF name and layout (GPT-2's or Llama's, from the
//!   family's spec; the embedding and an untied head cut to the real vocabulary),
//!   with no clipping, no weight decay and no optimizer step.

use std::path::Path;

use ladder_model::Workspace;

use crate::checkpoint::safetensors_bytes;
use crate::error::{io, Error, Result};
use crate::fsutil::write_atomic;
use crate::perf;
use crate::run::LoadedRun;

/// What `debug grads` computed (the file holds the same).
#[derive(Clone, Debug)]
pub struct GradDump {
    /// Mean cross-entropy of the batch (nats/token).
    pub loss: f32,
    /// Tensors written, with their shapes.
    pub tensors: Vec<(String, Vec<usize>)>,
}

/// Reads `B·(T+1)` u32 LE tokens from `path`, checking the size and the vocabulary.
pub fn read_tokens(path: &Path, batch: usize, seq: usize, vocab: usize) -> Result<Vec<u32>> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let count = batch * (seq + 1);
    if bytes.len() != count * 4 {
        return Err(Error::TokenFileSize {
            path: path.to_path_buf(),
            bytes: bytes.len() as u64,
            expected: count as u64 * 4,
            count,
        });
    }
    let toks: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if let Some((index, &token)) = toks.iter().enumerate().find(|(_, &t)| t as usize >= vocab) {
        return Err(Error::TokenOutOfRange {
            index,
            token,
            vocab,
        });
    }
    Ok(toks)
}

/// Computes and writes the dump of one batch through a run's newest checkpoint.
pub fn dump_grads(
    run_dir: &Path,
    tokens: &Path,
    batch: usize,
    seq: usize,
    out: &Path,
) -> Result<GradDump> {
    let run = LoadedRun::open(run_dir)?;
    let toks = read_tokens(tokens, batch, seq, run.model_cfg.vocab_size)?;
    let (mut inputs, mut targets) = (
        Vec::with_capacity(batch * seq),
        Vec::with_capacity(batch * seq),
    );
    for row in toks.chunks_exact(seq + 1) {
        inputs.extend_from_slice(&row[..seq]);
        targets.extend_from_slice(&row[1..]);
    }
    let pool = perf::thread_pool(run.config.train.threads)?;
    let (loss, logits, grads) = pool.install(|| -> Result<_> {
        let mut ws = Workspace::new(&run.model_cfg, batch, seq)?;
        let mut grads = vec![0.0f32; run.layout.len];
        let loss = ws.forward_backward(&run.params, &mut grads, &inputs, &targets, 1.0)?;
        Ok((loss, ws.logits(), grads))
    })?;
    let v = run.model_cfg.vocab_size;
    let loss_buf = [loss];
    let mut tensors: Vec<(String, Vec<usize>, &[f32])> = vec![
        ("loss".into(), vec![1], &loss_buf[..]),
        ("logits".into(), vec![batch, seq, v], &logits[..]),
    ];
    for t in &run.layout.tensors {
        tensors.push((t.name.clone(), t.shape.clone(), &grads[t.range()]));
    }
    let bytes = safetensors_bytes(&tensors, "pt")?;
    write_atomic(out, &bytes)?;
    Ok(GradDump {
        loss,
        tensors: tensors.into_iter().map(|(n, s, _)| (n, s)).collect(),
    })
}
