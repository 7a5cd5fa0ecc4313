//! The backend seam: the buffers and kernels one training step needs. The model code
//! ([`crate::Workspace`], [`crate::KvCache`], [`crate::AdamW`]) is generic over [`Backend`]
//! (static dispatch: one monomorphised copy per backend, no per-element or per-kernel virtual
//! call) and [`Cpu`] implements it with the crate's kernels, unchanged.
//!
//! Contract for an implementation (a CUDA backend next):
//! - Buffers come from [`Backend::alloc`] and are addressed as `[f32]` slices of it. A device
//!   backend allocates unified (managed) memory, so the slices the model cuts are valid device
//!   pointers, and launches every kernel on its stream; [`Backend::sync`] waits for the stream
//!   and is called before the host reads a result (losses, logits).
//! - Semantics are those of the CPU kernels of the same name in [`crate::kernels`]: shapes,
//!   overwrite-vs-accumulate (backward kernels add into gradients unless told otherwise),
//!   padded-vocabulary handling, the causal mask (plus `lookahead`, a planted-fault knob that is
//!   0 in real training).
//! - Determinism: the same inputs on the same device with the same configuration give bitwise
//!   identical outputs (fixed reduction orders; no atomics in reductions). Different backends
//!   may differ by rounding.

use std::ops::DerefMut;

use crate::kernels::{
    attention, crossentropy, embedding, gelu, layernorm, matmul, residual, rmsnorm, rope, swiglu,
};

/// AdamW's per-step constants (see [`crate::AdamW`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWHyper {
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator epsilon.
    pub eps: f32,
    /// lr / (1 − β1ᵗ).
    pub step_size: f32,
    /// √(1 − β2ᵗ).
    pub bc2_sqrt: f32,
    /// Multiplier of the parameters before the update: 1 − lr·wd on decayed tensors, else 1.
    pub decay: f32,
}

/// The buffers and kernels of a step. Dimension names as in [`crate::kernels`]: N = B·T rows,
/// C channels, V/Vp real/padded vocabulary, NH heads.
#[allow(clippy::too_many_arguments)]
pub trait Backend: Send + Sync {
    /// An owned buffer of `f32` (CPU: `Vec<f32>`; a device backend: managed memory).
    type Buf: DerefMut<Target = [f32]> + Send;

    /// A zeroed buffer of `len` elements.
    fn alloc(&self, len: usize) -> Self::Buf;

    /// Waits until every kernel launched so far has finished (CPU: nothing to wait for).
    fn sync(&self) {}

    /// out (N, C) = wte[inp] + wpe[position].
    fn embedding_forward(
        &self,
        out: &mut [f32],
        inp: &[u32],
        wte: &[f32],
        wpe: &[f32],
        t: usize,
        c: usize,
    );
    /// dwte, dwpe += scatter of dout (N, C).
    fn embedding_backward(
        &self,
        dwte: &mut [f32],
        dwpe: &mut [f32],
        dout: &[f32],
        inp: &[u32],
        t: usize,
        c: usize,
    );
    /// out (N, C) = wte[inp] (no position table: rotary families).
    fn token_embedding_forward(&self, out: &mut [f32], inp: &[u32], wte: &[f32], c: usize);
    /// dwte += scatter of dout (N, C).
    fn token_embedding_backward(&self, dwte: &mut [f32], dout: &[f32], inp: &[u32], c: usize);
    /// y = LayerNorm(x)·w + b, saving per-row mean and 1/std.
    fn layernorm_forward(
        &self,
        y: &mut [f32],
        mean: &mut [f32],
        rstd: &mut [f32],
        x: &[f32],
        w: &[f32],
        b: &[f32],
    );
    /// dx, dw, db += backward of [`Backend::layernorm_forward`].
    fn layernorm_backward(
        &self,
        dx: &mut [f32],
        dw: &mut [f32],
        db: &mut [f32],
        dy: &[f32],
        x: &[f32],
        w: &[f32],
        mean: &[f32],
        rstd: &[f32],
    );
    /// out (N, OC) = inp (N, IC) · w (IC, OC) [+ bias].
    fn matmul_forward(
        &self,
        out: &mut [f32],
        inp: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        ic: usize,
        oc: usize,
    );
    /// out = resid + inp · w [+ bias].
    fn matmul_forward_residual(
        &self,
        out: &mut [f32],
        resid: &[f32],
        inp: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        ic: usize,
        oc: usize,
    );
    /// dinp = [dinp +] dout · wᵀ.
    fn matmul_backward_input(
        &self,
        dinp: &mut [f32],
        dout: &[f32],
        w: &[f32],
        ic: usize,
        oc: usize,
        accumulate: bool,
    );
    /// dw += inpᵀ · dout; dbias += column sums of dout.
    fn matmul_backward_weight(
        &self,
        dw: &mut [f32],
        dbias: Option<&mut [f32]>,
        dout: &[f32],
        inp: &[f32],
        ic: usize,
        oc: usize,
    );
    /// out (N, OC) = inp (N, IC) · wᵀ with w (OC, IC): the tied lm head.
    fn matmul_nt_forward(&self, out: &mut [f32], inp: &[f32], w: &[f32], ic: usize, oc: usize);
    /// Backward of [`Backend::matmul_nt_forward`] (`scratch`: IC·OC elements, optional).
    fn matmul_nt_backward(
        &self,
        dinp: &mut [f32],
        dw: &mut [f32],
        scratch: Option<&mut [f32]>,
        dout: &[f32],
        inp: &[f32],
        w: &[f32],
        ic: usize,
        oc: usize,
        accumulate: bool,
    );
    /// Causal self-attention: y (N, C) and probabilities att (B, NH, T, T) from qkv (N, 3C).
    fn attention_forward(
        &self,
        y: &mut [f32],
        att: &mut [f32],
        qkv: &[f32],
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
        lookahead: usize,
    );
    /// dqkv = [dqkv +] backward of attention; `datt` is scratch.
    fn attention_backward(
        &self,
        dqkv: &mut [f32],
        datt: &mut [f32],
        dy: &[f32],
        qkv: &[f32],
        att: &[f32],
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
        accumulate: bool,
        lookahead: usize,
    );
    /// out (N, OC) = resid + inp (N, IC) · wᵀ with w (OC, IC): an `nn.Linear` projection with
    /// the residual add fused.
    fn matmul_nt_forward_residual(
        &self,
        out: &mut [f32],
        resid: &[f32],
        inp: &[f32],
        w: &[f32],
        ic: usize,
        oc: usize,
    );
    /// y = RMSNorm(x)·w, saving per-row 1/rms.
    fn rmsnorm_forward(&self, y: &mut [f32], rstd: &mut [f32], x: &[f32], w: &[f32], eps: f32);
    /// dx, dw += backward of [`Backend::rmsnorm_forward`].
    fn rmsnorm_backward(
        &self,
        dx: &mut [f32],
        dw: &mut [f32],
        dy: &[f32],
        x: &[f32],
        w: &[f32],
        rstd: &[f32],
    );
    /// Rotates the q and k parts of qkv (N, 3C) in place; row r at position `pos0 + r % t`,
    /// angles from the tables (positions, HS/2).
    fn rope_forward(
        &self,
        qkv: &mut [f32],
        cos: &[f32],
        sin: &[f32],
        t: usize,
        c: usize,
        nh: usize,
        pos0: usize,
    );
    /// Backward of [`Backend::rope_forward`], in place on dqkv.
    fn rope_backward(
        &self,
        dqkv: &mut [f32],
        cos: &[f32],
        sin: &[f32],
        t: usize,
        c: usize,
        nh: usize,
        pos0: usize,
    );
    /// h (N, F) = silu(gate)·up from gu (N, 2F) rows of gate | up.
    fn swiglu_forward(&self, h: &mut [f32], gu: &[f32], f: usize);
    /// dgu (N, 2F) = backward of [`Backend::swiglu_forward`], overwriting.
    fn swiglu_backward(&self, dgu: &mut [f32], dh: &[f32], gu: &[f32], f: usize);
    /// y = GELU(x) (tanh approximation).
    fn gelu_forward(&self, y: &mut [f32], x: &[f32]);
    /// d ← d · GELU'(x), in place.
    fn gelu_backward_inplace(&self, d: &mut [f32], x: &[f32]);
    /// out = a + b.
    fn residual_forward(&self, out: &mut [f32], a: &[f32], b: &[f32]);
    /// Per-row cross-entropy of logits (N, Vp) against targets.
    fn crossentropy_forward(&self, losses: &mut [f32], logits: &[f32], targets: &[u32], v: usize);
    /// Losses and dlogits = dloss · (softmax − onehot), overwriting `dlogits`.
    fn crossentropy_forward_backward(
        &self,
        dlogits: &mut [f32],
        losses: &mut [f32],
        logits: &[f32],
        targets: &[u32],
        v: usize,
        dloss: f32,
    );
    /// One AdamW update of a contiguous piece of one tensor.
    fn adamw_update(&self, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: AdamWHyper);
}

/// The CPU backend: the kernels of [`crate::kernels`] on the current rayon pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cpu;

#[allow(clippy::too_many_arguments)]
impl Backend for Cpu {
    type Buf = Vec<f32>;

    fn alloc(&self, len: usize) -> Vec<f32> {
        vec![0.0; len]
    }
    #[inline]
    fn embedding_forward(
        &self,
        out: &mut [f32],
        inp: &[u32],
        wte: &[f32],
        wpe: &[f32],
        t: usize,
        c: usize,
    ) {
        embedding::forward(out, inp, wte, wpe, t, c)
    }
    #[inline]
    fn embedding_backward(
        &self,
        dwte: &mut [f32],
        dwpe: &mut [f32],
        dout: &[f32],
        inp: &[u32],
        t: usize,
        c: usize,
    ) {
        embedding::backward(dwte, dwpe, dout, inp, t, c)
    }
    #[inline]
    fn token_embedding_forward(&self, out: &mut [f32], inp: &[u32], wte: &[f32], c: usize) {
        embedding::tokens_forward(out, inp, wte, c)
    }
    #[inline]
    fn token_embedding_backward(&self, dwte: &mut [f32], dout: &[f32], inp: &[u32], c: usize) {
        embedding::tokens_backward(dwte, dout, inp, c)
    }
    #[inline]
    fn layernorm_forward(
        &self,
        y: &mut [f32],
        mean: &mut [f32],
        rstd: &mut [f32],
        x: &[f32],
        w: &[f32],
        b: &[f32],
    ) {
        layernorm::forward(y, mean, rstd, x, w, b)
    }
    #[inline]
    fn layernorm_backward(
        &self,
        dx: &mut [f32],
        dw: &mut [f32],
        db: &mut [f32],
        dy: &[f32],
        x: &[f32],
        w: &[f32],
        mean: &[f32],
        rstd: &[f32],
    ) {
        layernorm::backward(dx, dw, db, dy, x, w, mean, rstd)
    }
    #[inline]
    fn matmul_forward(
        &self,
        out: &mut [f32],
        inp: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        ic: usize,
        oc: usize,
    ) {
        matmul::forward(out, inp, w, bias, ic, oc)
    }
    #[inline]
    fn matmul_forward_residual(
        &self,
        out: &mut [f32],
        resid: &[f32],
        inp: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        ic: usize,
        oc: usize,
    ) {
        matmul::forward_residual(out, resid, inp, w, bias, ic, oc)
    }
    #[inline]
    fn matmul_backward_input(
        &self,
        dinp: &mut [f32],
        dout: &[f32],
        w: &[f32],
        ic: usize,
        oc: usize,
        accumulate: bool,
    ) {
        matmul::backward_input(dinp, dout, w, ic, oc, accumulate)
    }
    #[inline]
    fn matmul_backward_weight(
        &self,
        dw: &mut [f32],
        dbias: Option<&mut [f32]>,
        dout: &[f32],
        inp: &[f32],
        ic: usize,
        oc: usize,
    ) {
        matmul::backward_weight(dw, dbias, dout, inp, ic, oc)
    }
    #[inline]
    fn matmul_nt_forward(&self, out: &mut [f32], inp: &[f32], w: &[f32], ic: usize, oc: usize) {
        matmul::forward_nt(out, inp, w, ic, oc)
    }
    #[inline]
    fn matmul_nt_backward(
        &self,
        dinp: &mut [f32],
        dw: &mut [f32],
        scratch: Option<&mut [f32]>,
        dout: &[f32],
        inp: &[f32],
        w: &[f32],
        ic: usize,
        oc: usize,
        accumulate: bool,
    ) {
        matmul::backward_nt(dinp, dw, scratch, dout, inp, w, ic, oc, accumulate)
    }
    #[inline]
    fn attention_forward(
        &self,
        y: &mut [f32],
        att: &mut [f32],
        qkv: &[f32],
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
        lookahead: usize,
    ) {
        attention::forward_impl(y, att, qkv, b, t, c, nh, lookahead)
    }
    #[inline]
    fn attention_backward(
        &self,
        dqkv: &mut [f32],
        datt: &mut [f32],
        dy: &[f32],
        qkv: &[f32],
        att: &[f32],
        b: usize,
        t: usize,
        c: usize,
        nh: usize,
        accumulate: bool,
        lookahead: usize,
    ) {
        attention::backward_impl(dqkv, datt, dy, qkv, att, b, t, c, nh, accumulate, lookahead)
    }
    #[inline]
    fn matmul_nt_forward_residual(
        &self,
        out: &mut [f32],
        resid: &[f32],
        inp: &[f32],
        w: &[f32],
        ic: usize,
        oc: usize,
    ) {
        matmul::forward_nt_residual(out, resid, inp, w, ic, oc)
    }
    #[inline]
    fn rmsnorm_forward(&self, y: &mut [f32], rstd: &mut [f32], x: &[f32], w: &[f32], eps: f32) {
        rmsnorm::forward(y, rstd, x, w, eps)
    }
    #[inline]
    fn rmsnorm_backward(
        &self,
        dx: &mut [f32],
        dw: &mut [f32],
        dy: &[f32],
        x: &[f32],
        w: &[f32],
        rstd: &[f32],
    ) {
        rmsnorm::backward(dx, dw, dy, x, w, rstd)
    }
    #[inline]
    fn rope_forward(
        &self,
        qkv: &mut [f32],
        cos: &[f32],
        sin: &[f32],
        t: usize,
        c: usize,
        nh: usize,
        pos0: usize,
    ) {
        rope::forward(qkv, cos, sin, t, c, nh, pos0)
    }
    #[inline]
    fn rope_backward(
        &self,
        dqkv: &mut [f32],
        cos: &[f32],
        sin: &[f32],
        t: usize,
        c: usize,
        nh: usize,
        pos0: usize,
    ) {
        rope::backward(dqkv, cos, sin, t, c, nh, pos0)
    }
    #[inline]
    fn swiglu_forward(&self, h: &mut [f32], gu: &[f32], f: usize) {
        swiglu::forward(h, gu, f)
    }
    #[inline]
    fn swiglu_backward(&self, dgu: &mut [f32], dh: &[f32], gu: &[f32], f: usize) {
        swiglu::backward(dgu, dh, gu, f)
    }
    #[inline]
    fn gelu_forward(&self, y: &mut [f32], x: &[f32]) {
        gelu::forward(y, x)
    }
    #[inline]
    fn gelu_backward_inplace(&self, d: &mut [f32], x: &[f32]) {
        gelu::backward_inplace(d, x)
    }
    #[inline]
    fn residual_forward(&self, out: &mut [f32], a: &[f32], b: &[f32]) {
        residual::forward(out, a, b)
    }
    #[inline]
    fn crossentropy_forward(&self, losses: &mut [f32], logits: &[f32], targets: &[u32], v: usize) {
        crossentropy::forward(losses, logits, targets, v)
    }
    #[inline]
    fn crossentropy_forward_backward(
        &self,
        dlogits: &mut [f32],
        losses: &mut [f32],
        logits: &[f32],
        targets: &[u32],
        v: usize,
        dloss: f32,
    ) {
        crossentropy::forward_backward(dlogits, losses, logits, targets, v, dloss)
    }
    #[inline]
    fn adamw_update(&self, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: AdamWHyper) {
        crate::optim::adamw_chunk(p, g, m, v, h)
    }
}
