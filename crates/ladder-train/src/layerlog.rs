//! `layers.jsonl`: per-layer gradient norm, weight norm, update/weight ratio and unchanged fraction
//! (see `ladder_model::layer_stats`) at step 1 and every `log.layer_stats_every` steps, for
//! `ladder diagnose`. Step 1 is always logged: AdamW's first update has a known size, which is
//! how diagnosis checks the learning rate that was really applied. Each logged step after the
//! first also records the cosine between its gradient and the previous step's: minibatch
//! gradients are mostly noise and nearly orthogonal, while a gradient buffer that is never
//! zeroed keeps pointing the same way.

use std::path::{Path, PathBuf};

use ladder_model::{LayerStat, ParamLayout};
use ladder_schema::LayerRecord;

use crate::error::Result;
use crate::metrics::JsonlWriter;

/// Keeps what a logged step needs from before it (the parameters, the previous gradient) and
/// writes its statistics after it.
pub struct LayerLog {
    every: u64,
    before: Vec<f32>,
    prev_grads: Vec<f32>,
    /// The step whose gradient `prev_grads` holds.
    prev_step: Option<u64>,
    path: PathBuf,
    out: JsonlWriter,
}

impl LayerLog {
    /// Creates the file, or with `append` continues an existing one (a resumed run); `None` when
    /// `every` is 0 (logging off).
    pub fn open(
        path: &Path,
        every: u64,
        n_params: usize,
        append: bool,
    ) -> Result<Option<LayerLog>> {
        if every == 0 {
            return Ok(None);
        }
        Ok(Some(LayerLog {
            every,
            before: vec![0.0; n_params],
            prev_grads: vec![0.0; n_params],
            prev_step: None,
            path: path.to_path_buf(),
            out: if append {
                JsonlWriter::append(path)?
            } else {
                JsonlWriter::create(path)?
            },
        }))
    }

    /// The gradient of step `step` when the next logged step needs it (its cosine with the
    /// previous gradient): a checkpoint of step `step` must carry it for a bitwise resume.
    pub fn carried_grads(&self, step: u64) -> Option<&[f32]> {
        (self.prev_step == Some(step)).then_some(&self.prev_grads[..])
    }

    /// Restores what [`LayerLog::carried_grads`] returned (from a checkpoint of step `step`).
    pub fn restore_grads(&mut self, step: u64, grads: &[f32]) {
        if grads.len() == self.prev_grads.len() {
            self.prev_grads.copy_from_slice(grads);
            self.prev_step = Some(step);
        }
    }

    /// Whether optimizer step `step` (1-based) is logged.
    fn wants(&self, step: u64) -> bool {
        step == 1 || step.is_multiple_of(self.every)
    }

    /// Call before step `step`'s update: remembers the parameters when the step is logged.
    pub fn before_update(&mut self, step: u64, params: &[f32]) {
        if self.wants(step) {
            self.before.copy_from_slice(params);
        }
    }

    /// Call after step `step`'s update, with `grads` as the optimizer used them (after clipping):
    /// writes the statistics of a logged step and keeps the gradient the next logged step needs.
    pub fn after_update(
        &mut self,
        step: u64,
        lr: f64,
        layout: &ParamLayout,
        params: &[f32],
        grads: &[f32],
    ) -> Result<()> {
        if self.wants(step) {
            let layers = ladder_model::layer_stats(layout, &self.before, params, grads);
            let grad_cosine_prev = (self.prev_step == Some(step - 1))
                .then(|| cosine(&self.prev_grads, grads))
                .flatten();
            self.out.write(&LayerRecord {
                step,
                lr: Some(lr),
                grad_cosine_prev,
                layers: layers.iter().map(schema_stat).collect(),
            })?;
        }
        if self.wants(step + 1) {
            self.prev_grads.copy_from_slice(grads);
            self.prev_step = Some(step);
        }
        Ok(())
    }

    /// Continues the file after a rollback truncated it (rewrote it under the same name): a new
    /// writer, and no previous gradient until the restored checkpoint hands one over.
    pub fn reopen(&mut self) -> Result<()> {
        self.out = JsonlWriter::append(&self.path)?;
        self.prev_step = None;
        Ok(())
    }

    /// Makes the lines written so far durable (see [`crate::resume::Logs`]'s `sync`).
    pub fn sync(&self) -> Result<()> {
        crate::resume::sync_file(&self.path)
    }

    /// Flushes and fsyncs the file.
    pub fn finish(self) -> Result<()> {
        self.out.finish()
    }
}

/// Cosine of two vectors in f64 (sequential: deterministic); `None` if either is zero.
fn cosine(a: &[f32], b: &[f32]) -> Option<f64> {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    (aa > 0.0 && bb > 0.0).then(|| ab / (aa * bb).sqrt())
}

/// A layer's statistics in the file's schema (a non-finite number is written as `null` either way).
fn schema_stat(l: &LayerStat) -> ladder_schema::LayerStat {
    ladder_schema::LayerStat {
        layer: l.layer.clone(),
        grad_norm: Some(l.grad_norm),
        weight_norm: Some(l.weight_norm),
        update_ratio: Some(l.update_ratio),
        unchanged_fraction: Some(l.unchanged_fraction),
        numel: l.numel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_step_one_every_nth_step_and_the_cosine_with_the_step_before() {
        let cfg = ladder_model::ModelConfig {
            n_layer: 1,
            n_embd: 8,
            n_head: 2,
            block_size: 4,
            vocab_size: 5,
            ..ladder_model::ModelConfig::default()
        };
        let layout = ParamLayout::new(&cfg);
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("layers.jsonl");
        let mut log = LayerLog::open(&path, 3, layout.len, false)
            .unwrap()
            .unwrap();
        let mut params = ladder_model::init_params(&cfg, 0);
        for step in 1..=7u64 {
            // Gradients alternate in sign from step to step: cosine −1 with the previous one.
            let sign = if step % 2 == 0 { 1.0 } else { -1.0 };
            let grads: Vec<f32> = (0..layout.len).map(|i| sign * (1 + i % 3) as f32).collect();
            log.before_update(step, &params);
            for (p, g) in params.iter_mut().zip(&grads) {
                *p -= 1e-3 * g;
            }
            log.after_update(step, 1e-3, &layout, &params, &grads)
                .unwrap();
        }
        log.finish().unwrap();
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let steps: Vec<u64> = lines.iter().map(|l| l["step"].as_u64().unwrap()).collect();
        assert_eq!(steps, [1, 3, 6]);
        assert!(lines[0].get("grad_cosine_prev").is_none());
        for l in &lines[1..] {
            assert!((l["grad_cosine_prev"].as_f64().unwrap() + 1.0).abs() < 1e-12);
        }
        assert_eq!(lines[0]["layers"][0]["layer"], "wte");
    }

    #[test]
    fn zero_every_turns_logging_off() {
        let t = tempfile::tempdir().unwrap();
        assert!(LayerLog::open(&t.path().join("l"), 0, 4, false)
            .unwrap()
            .is_none());
        assert!(!t.path().join("l").exists());
    }
}
