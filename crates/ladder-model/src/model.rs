//! The [`Model`] trait: what a trainer, an evaluator and a sampler need from a model, whatever
//! its family or backend. [`crate::Workspace`] implements it for every spec and backend.

use crate::backend::Backend;
use crate::error::Result;
use crate::kvcache::KvCache;
use crate::params::ParamLayout;
use crate::workspace::Workspace;
use crate::ModelConfig;

/// A model bound to one batch shape: layout, training step, evaluation and decoding.
pub trait Model {
    /// Decoding state for one sequence.
    type Cache;

    /// The model's dimensions.
    fn config(&self) -> &ModelConfig;

    /// The flat parameter layout (parameters, gradients and optimizer moments all use it).
    fn layout(&self) -> &ParamLayout;

    /// Forward + backward on one micro-batch: ADDS `loss_scale · d(mean CE)/dθ` into `grads`
    /// and returns the mean cross-entropy (nats/token).
    fn forward_backward(
        &mut self,
        params: &[f32],
        grads: &mut [f32],
        inputs: &[u32],
        targets: &[u32],
        loss_scale: f32,
    ) -> Result<f32>;

    /// Forward only; the mean cross-entropy (nats/token).
    fn forward_loss(&mut self, params: &[f32], inputs: &[u32], targets: &[u32]) -> Result<f32>;

    /// Logits of the last forward, (B, T, V) with the real vocabulary.
    fn logits(&self) -> Vec<f32>;

    /// An empty decoding cache for up to `max_len` positions (at most `block_size`).
    fn new_cache(&self, max_len: usize) -> Self::Cache;

    /// Feeds `token` at the cache's next position; the logits for the token after it.
    fn decode<'c>(
        &self,
        cache: &'c mut Self::Cache,
        params: &[f32],
        token: u32,
    ) -> Result<&'c [f32]>;
}

impl<B: Backend + Clone> Model for Workspace<B> {
    type Cache = KvCache<B>;

    fn config(&self) -> &ModelConfig {
        Workspace::config(self)
    }

    fn layout(&self) -> &ParamLayout {
        Workspace::layout(self)
    }

    fn forward_backward(
        &mut self,
        params: &[f32],
        grads: &mut [f32],
        inputs: &[u32],
        targets: &[u32],
        loss_scale: f32,
    ) -> Result<f32> {
        Workspace::forward_backward(self, params, grads, inputs, targets, loss_scale)
    }

    fn forward_loss(&mut self, params: &[f32], inputs: &[u32], targets: &[u32]) -> Result<f32> {
        Workspace::forward_loss(self, params, inputs, targets)
    }

    fn logits(&self) -> Vec<f32> {
        Workspace::logits(self)
    }

    fn new_cache(&self, max_len: usize) -> KvCache<B> {
        KvCache::with_layout(
            self.backend().clone(),
            self.layout().clone(),
            self.config(),
            max_len,
        )
    }

    fn decode<'c>(
        &self,
        cache: &'c mut KvCache<B>,
        params: &[f32],
        token: u32,
    ) -> Result<&'c [f32]> {
        cache.next_logits(params, token)
    }
}
