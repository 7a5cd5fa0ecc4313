//! Step hooks: the points of an optimizer step where code that is not the training maths attaches
//! — fault injection ([`Injector`]), planted bugs ([`PlantedBug`]), the health monitor
//! ([`Monitor`]), the layer log ([`LayerLog`]) and whatever comes next (a profiler). The step
//! itself (`Run::train_step` and `Run::end_step` in `trainer.rs`) is then a plain sequence:
//!
//! 1. [`StepHook::before_step`]
//! 2. per micro-batch: the batch is read (through [`StepHook::sequence_index`]),
//!    [`StepHook::before_micro_batch`], forward-backward
//! 3. [`StepHook::after_forward_backward`] (the weights, which nothing else changes until the
//!    update; with `--sdc-check-every` on one process the step's gradient is then computed a second
//!    time and compared), [`StepHook::after_backward`] (this rank's gradient), the data-parallel
//!    reduce, [`StepHook::after_reduce`] (the global gradient, before clipping)
//! 4. clipping, then [`StepHook::judge`] (a finding stops the step before the update)
//! 5. [`StepHook::before_update`], AdamW (at [`StepHook::applied_lr`]),
//!    [`StepHook::adjust_params`], [`StepHook::after_update`]
//! 6. evaluation → [`StepHook::after_eval`]; the `metrics.jsonl` line; a checkpoint
//!    ([`StepHook::checkpoint_midway`] while it is written, [`StepHook::after_checkpoint`] after)
//! 7. [`StepHook::after_step`]
//!
//! Every method has a no-op default. [`Hooks`] calls its hooks in a fixed order (planted bug,
//! injector, health, layer log, then the extra hooks in the order they were added), so the
//! numerics stay bitwise reproducible.

use std::path::Path;

use ladder_model::ParamLayout;

use crate::error::Result;
use crate::eval::ValLoss;
use crate::health::{Finding, Monitor};
use crate::inject::{self, Injector};
use crate::layerlog::LayerLog;
use crate::metrics::StepRecord;
use crate::planted::PlantedBug;

/// One micro-batch's tokens, as the hook before its forward pass sees them.
pub(crate) struct Batch<'a> {
    /// Input tokens, B × T.
    pub inputs: &'a mut [u32],
    /// Target tokens, B × T.
    pub targets: &'a mut [u32],
    /// The vocabulary size (tokens are below it).
    pub vocab: usize,
}

/// A completed update, as [`StepHook::after_update`] sees it.
pub(crate) struct Update<'a> {
    /// The step (1-based).
    pub step: u64,
    /// The logged learning rate.
    pub lr: f64,
    /// The step's mean training loss.
    pub loss: f32,
    /// The gradient norm before clipping.
    pub grad_norm: f32,
    /// Where each tensor lies in `params` and `grads`.
    pub layout: &'a ParamLayout,
    /// The weights after the update.
    pub params: &'a [f32],
    /// The gradient as the optimizer used it (after clipping).
    pub grads: &'a [f32],
}

/// Code attached to the points of a training step (see the module docs for the order).
pub(crate) trait StepHook {
    /// Step `step` (1-based) begins; its time is being measured.
    fn before_step(&mut self, _step: u64) {}
    /// The sampler index that global training sequence `index` reads (`windows` per epoch).
    fn sequence_index(&self, index: u64, _windows: u64) -> u64 {
        index
    }
    /// Whether the gradient buffer is zeroed before the step's micro-batches.
    fn zero_grads(&self) -> bool {
        true
    }
    /// Micro-batch `micro` of step `step` is about to go through forward-backward.
    fn before_micro_batch(&mut self, _step: u64, _micro: usize, _batch: &mut Batch<'_>) {}
    /// All micro-batches are done, before [`StepHook::after_backward`]: the weights as this rank
    /// holds them, which nothing changes before the update (except a fault: `bitflip@K`).
    fn after_forward_backward(&mut self, _step: u64, _params: &mut [f32]) {}
    /// All micro-batches are done: this rank's gradient, before the data-parallel reduce.
    fn after_backward(&mut self, _step: u64, _grads: &mut [f32]) {}
    /// After the reduce: the step's mean loss and the global gradient, before clipping.
    fn after_reduce(&mut self, _step: u64, _loss: &mut f32, _grads: &mut [f32]) {}
    /// A verdict on the step before its update may touch the weights (`None` = healthy).
    fn judge(&mut self, _step: u64, _loss: f32, _grad_norm: f32) -> Option<Finding> {
        None
    }
    /// The learning rate the optimizer applies, given the scheduled (logged) one.
    fn applied_lr(&self, lr: f64) -> f64 {
        lr
    }
    /// Right before the optimizer step.
    fn before_update(&mut self, _step: u64, _params: &[f32]) {}
    /// Right after the optimizer step; may change the weights.
    fn adjust_params(&mut self, _params: &mut [f32]) {}
    /// The update is complete (weights final for this step).
    fn after_update(&mut self, _u: &Update<'_>) -> Result<()> {
        Ok(())
    }
    /// An evaluation after step `step` gave this validation loss (with its standard error).
    fn after_eval(&mut self, _step: u64, _val: &ValLoss) {}
    /// A checkpoint of step `step` is half written (tensor files in its temp dir, nothing renamed).
    fn checkpoint_midway(&mut self, _step: u64) {}
    /// A checkpoint of step `step` is complete in `dir`.
    fn after_checkpoint(&mut self, _step: u64, _dir: &Path) -> Result<()> {
        Ok(())
    }
    /// The step is over: its record is in `metrics.jsonl`, its checkpoint (if any) written.
    fn after_step(&mut self, _record: &StepRecord) {}
}

/// The hooks of a run, called in a fixed order.
pub(crate) struct Hooks {
    /// A planted bug (testing aid for diagnosis); [`PlantedBug::None`] in real runs.
    pub bug: PlantedBug,
    /// Fault injection (testing aid).
    pub inject: Injector,
    /// The health monitor.
    pub health: Monitor,
    /// `layers.jsonl` (rank 0, when `log.layer_stats_every` > 0).
    pub layers: Option<LayerLog>,
    /// Further hooks (a profiler), called last in the order they were added.
    pub extra: Vec<Box<dyn StepHook + Send>>,
}

impl Hooks {
    /// Every hook, in calling order.
    fn all(&mut self) -> impl Iterator<Item = &mut dyn StepHook> {
        let fixed: [&mut dyn StepHook; 3] = [&mut self.bug, &mut self.inject, &mut self.health];
        fixed
            .into_iter()
            .chain(self.layers.iter_mut().map(|l| l as &mut dyn StepHook))
            .chain(self.extra.iter_mut().map(|h| &mut **h as &mut dyn StepHook))
    }

    /// The hooks that are only queried (`&self` methods), in calling order.
    fn all_ref(&self) -> impl Iterator<Item = &dyn StepHook> {
        let fixed: [&dyn StepHook; 3] = [&self.bug, &self.inject, &self.health];
        fixed
            .into_iter()
            .chain(self.layers.iter().map(|l| l as &dyn StepHook))
            .chain(self.extra.iter().map(|h| &**h as &dyn StepHook))
    }

    /// Flushes and fsyncs what the hooks write (the layer log).
    pub fn finish(&mut self) -> Result<()> {
        match self.layers.take() {
            Some(l) => l.finish(),
            None => Ok(()),
        }
    }
}

/// The list is itself a hook: each point calls every hook in order; queries compose (indices and
/// learning rates pass through each hook in turn, the gradient is zeroed unless a hook says not,
/// the first verdict wins).
impl StepHook for Hooks {
    fn before_step(&mut self, step: u64) {
        self.all().for_each(|h| h.before_step(step));
    }
    fn sequence_index(&self, index: u64, windows: u64) -> u64 {
        self.all_ref()
            .fold(index, |i, h| h.sequence_index(i, windows))
    }
    fn zero_grads(&self) -> bool {
        self.all_ref().all(|h| h.zero_grads())
    }
    fn before_micro_batch(&mut self, step: u64, micro: usize, batch: &mut Batch<'_>) {
        self.all()
            .for_each(|h| h.before_micro_batch(step, micro, batch));
    }
    fn after_forward_backward(&mut self, step: u64, params: &mut [f32]) {
        self.all()
            .for_each(|h| h.after_forward_backward(step, params));
    }
    fn after_backward(&mut self, step: u64, grads: &mut [f32]) {
        self.all().for_each(|h| h.after_backward(step, grads));
    }
    fn after_reduce(&mut self, step: u64, loss: &mut f32, grads: &mut [f32]) {
        self.all().for_each(|h| h.after_reduce(step, loss, grads));
    }
    fn judge(&mut self, step: u64, loss: f32, grad_norm: f32) -> Option<Finding> {
        self.all().find_map(|h| h.judge(step, loss, grad_norm))
    }
    fn applied_lr(&self, lr: f64) -> f64 {
        self.all_ref().fold(lr, |lr, h| h.applied_lr(lr))
    }
    fn before_update(&mut self, step: u64, params: &[f32]) {
        self.all().for_each(|h| h.before_update(step, params));
    }
    fn adjust_params(&mut self, params: &mut [f32]) {
        self.all().for_each(|h| h.adjust_params(params));
    }
    fn after_update(&mut self, u: &Update<'_>) -> Result<()> {
        self.all().try_for_each(|h| h.after_update(u))
    }
    fn after_eval(&mut self, step: u64, val: &ValLoss) {
        self.all().for_each(|h| h.after_eval(step, val));
    }
    fn checkpoint_midway(&mut self, step: u64) {
        self.all().for_each(|h| h.checkpoint_midway(step));
    }
    fn after_checkpoint(&mut self, step: u64, dir: &Path) -> Result<()> {
        self.all().try_for_each(|h| h.after_checkpoint(step, dir))
    }
    fn after_step(&mut self, record: &StepRecord) {
        self.all().for_each(|h| h.after_step(record));
    }
}

/// Planted bugs live in the data order, the gradient buffer, the applied rate and the weights.
impl StepHook for PlantedBug {
    fn sequence_index(&self, index: u64, windows: u64) -> u64 {
        PlantedBug::sequence_index(*self, index, windows)
    }
    fn zero_grads(&self) -> bool {
        PlantedBug::zero_grads(*self)
    }
    fn applied_lr(&self, lr: f64) -> f64 {
        lr * self.lr_factor()
    }
    fn adjust_params(&mut self, params: &mut [f32]) {
        PlantedBug::after_step(*self, params);
    }
}

/// Injected faults happen where the real ones would: a stall in the step, garbage data, a NaN
/// in the gradient, a kill during a checkpoint or after a step, bit rot in a written checkpoint,
/// a stall between steps, a flipped bit in one rank's weights.
impl StepHook for Injector {
    fn after_forward_backward(&mut self, step: u64, params: &mut [f32]) {
        self.bitflip(step, params);
    }
    fn before_step(&mut self, step: u64) {
        if let Some(stall) = self.slow(step) {
            std::thread::sleep(stall);
        }
        self.arm_spike(step);
    }
    fn before_micro_batch(&mut self, step: u64, micro: usize, batch: &mut Batch<'_>) {
        if self.spiking(step) {
            inject::scramble(batch.inputs, batch.targets, step, micro, batch.vocab);
        }
    }
    fn after_reduce(&mut self, step: u64, loss: &mut f32, grads: &mut [f32]) {
        if self.spiking(step) {
            *loss = inject::amplify(*loss, grads);
        }
        if self.nan(step) {
            grads[0] = f32::NAN;
        }
    }
    fn checkpoint_midway(&mut self, step: u64) {
        if self.kill_in_checkpoint(step) {
            inject::kill_self()
        }
    }
    fn after_checkpoint(&mut self, step: u64, dir: &Path) -> Result<()> {
        self.corrupt_checkpoint(step, dir).map(|_| ())
    }
    fn after_step(&mut self, record: &StepRecord) {
        self.kill_after(record.step);
        if let Some(pause) = self.pause(record.step) {
            std::thread::sleep(pause);
        }
    }
}

/// The monitor judges each step before its update and learns from each accepted one.
impl StepHook for Monitor {
    fn judge(&mut self, step: u64, loss: f32, grad_norm: f32) -> Option<Finding> {
        self.check(step, loss, grad_norm)
    }
    fn after_update(&mut self, u: &Update<'_>) -> Result<()> {
        self.accept(u.loss, u.grad_norm);
        Ok(())
    }
}

/// The layer log needs the weights from before a logged step's update and writes after it.
impl StepHook for LayerLog {
    fn before_update(&mut self, step: u64, params: &[f32]) {
        LayerLog::before_update(self, step, params);
    }
    fn after_update(&mut self, u: &Update<'_>) -> Result<()> {
        LayerLog::after_update(self, u.step, u.lr, u.layout, u.params, u.grads)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::health::HealthSection;
    use crate::inject::Injection;

    /// Records the points it is called at.
    struct Trace(Arc<Mutex<Vec<String>>>);
    impl StepHook for Trace {
        fn before_step(&mut self, step: u64) {
            self.0.lock().unwrap().push(format!("before_step {step}"));
        }
        fn after_reduce(&mut self, step: u64, loss: &mut f32, grads: &mut [f32]) {
            let what = format!("after_reduce {step} loss {loss} grad0 {}", grads[0]);
            self.0.lock().unwrap().push(what);
        }
        fn applied_lr(&self, lr: f64) -> f64 {
            lr / 2.0
        }
    }

    fn hooks(bug: PlantedBug, inject: Vec<Injection>) -> (Hooks, Arc<Mutex<Vec<String>>>) {
        let trace = Arc::new(Mutex::new(Vec::new()));
        let h = Hooks {
            bug,
            inject: Injector::new(inject),
            health: Monitor::new(&HealthSection::default()),
            layers: None,
            extra: vec![Box::new(Trace(trace.clone()))],
        };
        (h, trace)
    }

    #[test]
    fn the_list_composes_queries_and_calls_extra_hooks_after_the_fixed_ones() {
        let (mut h, trace) = hooks(
            PlantedBug::LrX30,
            vec![Injection::Spike(2), Injection::Nan(2)],
        );
        // 30 × from the planted bug, then / 2 from the extra hook.
        assert_eq!(h.applied_lr(1.0), 15.0);
        assert!(h.zero_grads());
        assert_eq!(h.sequence_index(12_345, 1000), 12_345);
        h.before_step(2);
        let (mut loss, mut grads) = (1.5f32, vec![0.25f32, 1.0]);
        h.after_reduce(2, &mut loss, &mut grads);
        // The injector ran first: the extra hook sees the amplified loss and the NaN.
        assert_eq!(
            *trace.lock().unwrap(),
            ["before_step 2", "after_reduce 2 loss 15 grad0 NaN"]
        );
        let f = h.judge(2, loss, f32::NAN).unwrap();
        assert_eq!(f.kind, "nan", "the health monitor judges through the list");
    }

    #[test]
    fn planted_bugs_act_through_their_hook_points() {
        let (h, _) = hooks(PlantedBug::RepeatData, vec![]);
        assert_eq!(h.sequence_index(12_345, 1000), 12_345 % 10);
        let (h, _) = hooks(PlantedBug::StaleGrad, vec![]);
        assert!(!h.zero_grads());
        let (mut h, _) = hooks(PlantedBug::Bf16Weights, vec![]);
        let mut p = vec![1.0f32 + 1e-6];
        h.adjust_params(&mut p);
        assert_eq!(p, [1.0]);
    }
}
