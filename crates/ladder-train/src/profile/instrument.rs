//! A [`Backend`] that wraps another and calls a [`Hook`] around every kernel: the profiler's
//! timer and the doctor's test-only broken kernel are both hooks. The model code is generic over
//! the backend, so a plain run never sees this type (no cost when profiling is off) and the
//! wrapped run calls the same kernels on the same buffers (bitwise the same numbers).
//!
//! Each call carries its FLOP and byte counts, computed from the arguments with the models
//! below (docs/profile.md explains them). FLOPs count every add, multiply, divide, square root
//! and transcendental (exp, tanh, ...) as one. Bytes are the compulsory traffic of the kernel:
//! every input element read once, every output written once, and accumulated outputs read and
//! written (`+=`); 4 bytes per f32, 4 per token id. Re-reads that a cache may or may not absorb
//! (a GEMM's operand panels, attention's K and V rows) are not counted, so GB/s is a lower bound
//! on the traffic the memory system saw.

use ladder_model::{AdamWHyper, Backend};

/// The kernels of the [`Backend`] trait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Kernel {
    EmbeddingForward,
    EmbeddingBackward,
    TokenEmbeddingForward,
    TokenEmbeddingBackward,
    LayernormForward,
    LayernormBackward,
    MatmulForward,
    MatmulForwardResidual,
    MatmulBackwardInput,
    MatmulBackwardWeight,
    MatmulNtForward,
    MatmulNtForwardResidual,
    MatmulNtBackward,
    AttentionForward,
    AttentionBackward,
    RmsnormForward,
    RmsnormBackward,
    RopeForward,
    RopeBackward,
    SwigluForward,
    SwigluBackward,
    GeluForward,
    GeluBackward,
    ResidualForward,
    CrossentropyForward,
    CrossentropyForwardBackward,
    AdamwUpdate,
}

impl Kernel {
    /// Every kernel, in trait order.
    pub const ALL: [Kernel; 27] = [
        Kernel::EmbeddingForward,
        Kernel::EmbeddingBackward,
        Kernel::TokenEmbeddingForward,
        Kernel::TokenEmbeddingBackward,
        Kernel::LayernormForward,
        Kernel::LayernormBackward,
        Kernel::MatmulForward,
        Kernel::MatmulForwardResidual,
        Kernel::MatmulBackwardInput,
        Kernel::MatmulBackwardWeight,
        Kernel::MatmulNtForward,
        Kernel::MatmulNtForwardResidual,
        Kernel::MatmulNtBackward,
        Kernel::AttentionForward,
        Kernel::AttentionBackward,
        Kernel::RmsnormForward,
        Kernel::RmsnormBackward,
        Kernel::RopeForward,
        Kernel::RopeBackward,
        Kernel::SwigluForward,
        Kernel::SwigluBackward,
        Kernel::GeluForward,
        Kernel::GeluBackward,
        Kernel::ResidualForward,
        Kernel::CrossentropyForward,
        Kernel::CrossentropyForwardBackward,
        Kernel::AdamwUpdate,
    ];

    /// The snake_case name (as the `Backend` method).
    pub fn name(self) -> &'static str {
        match self {
            Kernel::EmbeddingForward => "embedding_forward",
            Kernel::EmbeddingBackward => "embedding_backward",
            Kernel::TokenEmbeddingForward => "token_embedding_forward",
            Kernel::TokenEmbeddingBackward => "token_embedding_backward",
            Kernel::LayernormForward => "layernorm_forward",
            Kernel::LayernormBackward => "layernorm_backward",
            Kernel::MatmulForward => "matmul_forward",
            Kernel::MatmulForwardResidual => "matmul_forward_residual",
            Kernel::MatmulBackwardInput => "matmul_backward_input",
            Kernel::MatmulBackwardWeight => "matmul_backward_weight",
            Kernel::MatmulNtForward => "matmul_nt_forward",
            Kernel::MatmulNtForwardResidual => "matmul_nt_forward_residual",
            Kernel::MatmulNtBackward => "matmul_nt_backward",
            Kernel::AttentionForward => "attention_forward",
            Kernel::AttentionBackward => "attention_backward",
            Kernel::RmsnormForward => "rmsnorm_forward",
            Kernel::RmsnormBackward => "rmsnorm_backward",
            Kernel::RopeForward => "rope_forward",
            Kernel::RopeBackward => "rope_backward",
            Kernel::SwigluForward => "swiglu_forward",
            Kernel::SwigluBackward => "swiglu_backward",
            Kernel::GeluForward => "gelu_forward",
            Kernel::GeluBackward => "gelu_backward",
            Kernel::ResidualForward => "residual_forward",
            Kernel::CrossentropyForward => "crossentropy_forward",
            Kernel::CrossentropyForwardBackward => "crossentropy_forward_backward",
            Kernel::AdamwUpdate => "adamw_update",
        }
    }

    /// The kernel called `name` (as [`Kernel::name`]).
    pub fn from_name(name: &str) -> Option<Kernel> {
        Kernel::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether this is a backward kernel (the optimizer counts as neither).
    pub fn is_backward(self) -> bool {
        self.name().contains("backward")
    }
}

/// One kernel call: which kernel, its matmul dimensions (0 elsewhere), and its cost model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OpCall {
    /// The kernel.
    pub kernel: Kernel,
    /// Input channels of a matmul (0 for other kernels).
    pub ic: usize,
    /// Output channels of a matmul (0 for other kernels).
    pub oc: usize,
    /// Floating-point operations.
    pub flops: f64,
    /// Compulsory bytes read + written.
    pub bytes: f64,
}

/// What runs around each kernel call of an [`Instrumented`] backend.
pub trait Hook: Send + Sync {
    /// Called before the kernel runs.
    fn before(&self, _call: &OpCall) {}
    /// Called after the kernel ran, with its (main) output.
    fn after(&self, _call: &OpCall, _out: &mut [f32]) {}
}

/// The hook that does nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHook;
impl Hook for NoHook {}

/// `inner`'s kernels with `hook` around each call.
pub struct Instrumented<B: Backend, H: Hook> {
    /// The backend doing the work.
    pub inner: B,
    /// Called around every kernel.
    pub hook: H,
}

impl<B: Backend, H: Hook> Instrumented<B, H> {
    /// Wraps `inner`.
    pub fn new(inner: B, hook: H) -> Self {
        Instrumented { inner, hook }
    }
}

const F: f64 = 4.0; // bytes per f32 (and per u32 token id)

fn call(kernel: Kernel, flops: f64, bytes: f64) -> OpCall {
    OpCall {
        kernel,
        ic: 0,
        oc: 0,
        flops,
        bytes,
    }
}

fn mm(kernel: Kernel, ic: usize, oc: usize, flops: f64, bytes: f64) -> OpCall {
    OpCall {
        kernel,
        ic,
        oc,
        flops,
        bytes,
    }
}

/// Score entries of a causal attention: B·NH·T(T+1)/2.
fn causal(b: usize, t: usize, nh: usize) -> f64 {
    (b * nh) as f64 * (t * (t + 1)) as f64 / 2.0
}

#[allow(clippy::too_many_arguments)]
impl<B: Backend, H: Hook> Backend for Instrumented<B, H> {
    type Buf = B::Buf;

    fn alloc(&self, len: usize) -> B::Buf {
        self.inner.alloc(len)
    }
    fn sync(&self) {
        self.inner.sync()
    }
    fn embedding_forward(
        &self,
        out: &mut [f32],
        inp: &[u32],
        wte: &[f32],
        wpe: &[f32],
        t: usize,
        c: usize,
    ) {
        let n = inp.len() as f64;
        let k = call(
            Kernel::EmbeddingForward,
            n * c as f64,
            F * (n + 3.0 * n * c as f64),
        );
        self.hook.before(&k);
        self.inner.embedding_forward(out, inp, wte, wpe, t, c);
        self.hook.after(&k, out);
    }
    fn embedding_backward(
        &self,
        dwte: &mut [f32],
        dwpe: &mut [f32],
        dout: &[f32],
        inp: &[u32],
        t: usize,
        c: usize,
    ) {
        let n = inp.len() as f64;
        let nc = n * c as f64;
        // dout read once; each token's dwte row and each position's dwpe row read and written.
        let k = call(
            Kernel::EmbeddingBackward,
            2.0 * nc,
            F * (n + nc + 2.0 * nc + 2.0 * (t * c) as f64),
        );
        self.hook.before(&k);
        self.inner.embedding_backward(dwte, dwpe, dout, inp, t, c);
        self.hook.after(&k, dwte);
    }
    fn token_embedding_forward(&self, out: &mut [f32], inp: &[u32], wte: &[f32], c: usize) {
        let n = inp.len() as f64;
        let k = call(
            Kernel::TokenEmbeddingForward,
            0.0,
            F * (n + 2.0 * n * c as f64),
        );
        self.hook.before(&k);
        self.inner.token_embedding_forward(out, inp, wte, c);
        self.hook.after(&k, out);
    }
    fn token_embedding_backward(&self, dwte: &mut [f32], dout: &[f32], inp: &[u32], c: usize) {
        let n = inp.len() as f64;
        let nc = n * c as f64;
        let k = call(Kernel::TokenEmbeddingBackward, nc, F * (n + 3.0 * nc));
        self.hook.before(&k);
        self.inner.token_embedding_backward(dwte, dout, inp, c);
        self.hook.after(&k, dwte);
    }
    fn layernorm_forward(
        &self,
        y: &mut [f32],
        mean: &mut [f32],
        rstd: &mut [f32],
        x: &[f32],
        w: &[f32],
        b: &[f32],
    ) {
        let (nc, n, c) = (x.len() as f64, mean.len() as f64, w.len() as f64);
        // mean (1), variance (3), normalise + scale + shift (4) per element.
        let k = call(
            Kernel::LayernormForward,
            8.0 * nc,
            F * (2.0 * nc + 2.0 * c + 2.0 * n),
        );
        self.hook.before(&k);
        self.inner.layernorm_forward(y, mean, rstd, x, w, b);
        self.hook.after(&k, y);
    }
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
        let (nc, n, c) = (x.len() as f64, mean.len() as f64, w.len() as f64);
        // reads dy, x, dx (accumulated), w, mean, rstd; writes dx; dw, db read and written.
        let k = call(
            Kernel::LayernormBackward,
            14.0 * nc,
            F * (4.0 * nc + 5.0 * c + 2.0 * n),
        );
        self.hook.before(&k);
        self.inner
            .layernorm_backward(dx, dw, db, dy, x, w, mean, rstd);
        self.hook.after(&k, dx);
    }
    fn matmul_forward(
        &self,
        out: &mut [f32],
        inp: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        ic: usize,
        oc: usize,
    ) {
        let n = (inp.len() / ic.max(1)) as f64;
        let (i, o) = (ic as f64, oc as f64);
        let nb = if bias.is_some() { 1.0 } else { 0.0 };
        let k = mm(
            Kernel::MatmulForward,
            ic,
            oc,
            2.0 * n * i * o + nb * n * o,
            F * (n * i + i * o + n * o + nb * o),
        );
        self.hook.before(&k);
        self.inner.matmul_forward(out, inp, w, bias, ic, oc);
        self.hook.after(&k, out);
    }
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
        let n = (inp.len() / ic.max(1)) as f64;
        let (i, o) = (ic as f64, oc as f64);
        let nb = if bias.is_some() { 1.0 } else { 0.0 };
        let k = mm(
            Kernel::MatmulForwardResidual,
            ic,
            oc,
            2.0 * n * i * o + (1.0 + nb) * n * o,
            F * (n * i + i * o + 2.0 * n * o + nb * o),
        );
        self.hook.before(&k);
        self.inner
            .matmul_forward_residual(out, resid, inp, w, bias, ic, oc);
        self.hook.after(&k, out);
    }
    fn matmul_backward_input(
        &self,
        dinp: &mut [f32],
        dout: &[f32],
        w: &[f32],
        ic: usize,
        oc: usize,
        accumulate: bool,
    ) {
        let n = (dout.len() / oc.max(1)) as f64;
        let (i, o) = (ic as f64, oc as f64);
        let acc = if accumulate { 1.0 } else { 0.0 };
        let k = mm(
            Kernel::MatmulBackwardInput,
            ic,
            oc,
            2.0 * n * i * o + acc * n * i,
            F * (n * o + i * o + (1.0 + acc) * n * i),
        );
        self.hook.before(&k);
        self.inner
            .matmul_backward_input(dinp, dout, w, ic, oc, accumulate);
        self.hook.after(&k, dinp);
    }
    fn matmul_backward_weight(
        &self,
        dw: &mut [f32],
        dbias: Option<&mut [f32]>,
        dout: &[f32],
        inp: &[f32],
        ic: usize,
        oc: usize,
    ) {
        let n = (dout.len() / oc.max(1)) as f64;
        let (i, o) = (ic as f64, oc as f64);
        let nb = if dbias.is_some() { 1.0 } else { 0.0 };
        let k = mm(
            Kernel::MatmulBackwardWeight,
            ic,
            oc,
            2.0 * n * i * o + i * o + nb * n * o,
            F * (n * o + n * i + 2.0 * i * o + 2.0 * nb * o),
        );
        self.hook.before(&k);
        self.inner
            .matmul_backward_weight(dw, dbias, dout, inp, ic, oc);
        self.hook.after(&k, dw);
    }
    fn matmul_nt_forward(&self, out: &mut [f32], inp: &[f32], w: &[f32], ic: usize, oc: usize) {
        let n = (inp.len() / ic.max(1)) as f64;
        let (i, o) = (ic as f64, oc as f64);
        let k = mm(
            Kernel::MatmulNtForward,
            ic,
            oc,
            2.0 * n * i * o,
            F * (n * i + i * o + n * o),
        );
        self.hook.before(&k);
        self.inner.matmul_nt_forward(out, inp, w, ic, oc);
        self.hook.after(&k, out);
    }
    fn matmul_nt_forward_residual(
        &self,
        out: &mut [f32],
        resid: &[f32],
        inp: &[f32],
        w: &[f32],
        ic: usize,
        oc: usize,
    ) {
        let n = (inp.len() / ic.max(1)) as f64;
        let (i, o) = (ic as f64, oc as f64);
        let k = mm(
            Kernel::MatmulNtForwardResidual,
            ic,
            oc,
            2.0 * n * i * o + n * o,
            F * (n * i + i * o + 2.0 * n * o),
        );
        self.hook.before(&k);
        self.inner
            .matmul_nt_forward_residual(out, resid, inp, w, ic, oc);
        self.hook.after(&k, out);
    }
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
        let n = (dout.len() / oc.max(1)) as f64;
        let (i, o) = (ic as f64, oc as f64);
        let acc = if accumulate { 1.0 } else { 0.0 };
        // dinp = dout·w and dw += doutᵀ·inp: two GEMMs; a scratch copy is written and read back.
        let s = if scratch.is_some() { 2.0 * i * o } else { 0.0 };
        let k = mm(
            Kernel::MatmulNtBackward,
            ic,
            oc,
            4.0 * n * i * o + i * o + acc * n * i,
            F * (n * o + i * o + n * i + (1.0 + acc) * n * i + 2.0 * i * o + s),
        );
        self.hook.before(&k);
        self.inner
            .matmul_nt_backward(dinp, dw, scratch, dout, inp, w, ic, oc, accumulate);
        self.hook.after(&k, dinp);
    }
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
        let s = causal(b, t, nh);
        let hs = (c / nh.max(1)) as f64;
        let nc = (b * t * c) as f64;
        // q·k (2·HS) and p·v (2·HS) per causal score, plus scale, max, exp, sum, divide (5).
        let k = call(
            Kernel::AttentionForward,
            s * (4.0 * hs + 5.0),
            F * (3.0 * nc + nc + s),
        );
        self.hook.before(&k);
        self.inner
            .attention_forward(y, att, qkv, b, t, c, nh, lookahead);
        self.hook.after(&k, y);
    }
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
        let s = causal(b, t, nh);
        let hs = (c / nh.max(1)) as f64;
        let nc = (b * t * c) as f64;
        let acc = if accumulate { 1.0 } else { 0.0 };
        // dp = dy·v, dv += pᵀ·dy, dq += ds·k, dk += dsᵀ·q (4 × 2·HS per score) + softmax backward.
        let k = call(
            Kernel::AttentionBackward,
            s * (8.0 * hs + 4.0),
            F * (nc + 3.0 * nc + s + 2.0 * s + (1.0 + acc) * 3.0 * nc),
        );
        self.hook.before(&k);
        self.inner
            .attention_backward(dqkv, datt, dy, qkv, att, b, t, c, nh, accumulate, lookahead);
        self.hook.after(&k, dqkv);
    }
    fn rmsnorm_forward(&self, y: &mut [f32], rstd: &mut [f32], x: &[f32], w: &[f32], eps: f32) {
        let (nc, n, c) = (x.len() as f64, rstd.len() as f64, w.len() as f64);
        let k = call(Kernel::RmsnormForward, 4.0 * nc, F * (2.0 * nc + c + n));
        self.hook.before(&k);
        self.inner.rmsnorm_forward(y, rstd, x, w, eps);
        self.hook.after(&k, y);
    }
    fn rmsnorm_backward(
        &self,
        dx: &mut [f32],
        dw: &mut [f32],
        dy: &[f32],
        x: &[f32],
        w: &[f32],
        rstd: &[f32],
    ) {
        let (nc, n, c) = (x.len() as f64, rstd.len() as f64, w.len() as f64);
        let k = call(
            Kernel::RmsnormBackward,
            9.0 * nc,
            F * (4.0 * nc + 3.0 * c + n),
        );
        self.hook.before(&k);
        self.inner.rmsnorm_backward(dx, dw, dy, x, w, rstd);
        self.hook.after(&k, dx);
    }
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
        let nc = (qkv.len() / 3) as f64;
        // q and k: N·C rotated pairs in all, 6 FLOPs each; both read and written.
        let k = call(
            Kernel::RopeForward,
            6.0 * nc,
            F * (4.0 * nc + (cos.len() + sin.len()) as f64),
        );
        self.hook.before(&k);
        self.inner.rope_forward(qkv, cos, sin, t, c, nh, pos0);
        self.hook.after(&k, qkv);
    }
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
        let nc = (dqkv.len() / 3) as f64;
        let k = call(
            Kernel::RopeBackward,
            6.0 * nc,
            F * (4.0 * nc + (cos.len() + sin.len()) as f64),
        );
        self.hook.before(&k);
        self.inner.rope_backward(dqkv, cos, sin, t, c, nh, pos0);
        self.hook.after(&k, dqkv);
    }
    fn swiglu_forward(&self, h: &mut [f32], gu: &[f32], f: usize) {
        let nf = h.len() as f64;
        // silu(g)·u: exp, add, divide, two multiplies.
        let k = call(Kernel::SwigluForward, 5.0 * nf, F * 3.0 * nf);
        self.hook.before(&k);
        self.inner.swiglu_forward(h, gu, f);
        self.hook.after(&k, h);
    }
    fn swiglu_backward(&self, dgu: &mut [f32], dh: &[f32], gu: &[f32], f: usize) {
        let nf = dh.len() as f64;
        let k = call(Kernel::SwigluBackward, 10.0 * nf, F * 5.0 * nf);
        self.hook.before(&k);
        self.inner.swiglu_backward(dgu, dh, gu, f);
        self.hook.after(&k, dgu);
    }
    fn gelu_forward(&self, y: &mut [f32], x: &[f32]) {
        let n = x.len() as f64;
        // tanh approximation: 7 arithmetic operations and one tanh.
        let k = call(Kernel::GeluForward, 8.0 * n, F * 2.0 * n);
        self.hook.before(&k);
        self.inner.gelu_forward(y, x);
        self.hook.after(&k, y);
    }
    fn gelu_backward_inplace(&self, d: &mut [f32], x: &[f32]) {
        let n = x.len() as f64;
        let k = call(Kernel::GeluBackward, 16.0 * n, F * 3.0 * n);
        self.hook.before(&k);
        self.inner.gelu_backward_inplace(d, x);
        self.hook.after(&k, d);
    }
    fn residual_forward(&self, out: &mut [f32], a: &[f32], b: &[f32]) {
        let n = a.len() as f64;
        let k = call(Kernel::ResidualForward, n, F * 3.0 * n);
        self.hook.before(&k);
        self.inner.residual_forward(out, a, b);
        self.hook.after(&k, out);
    }
    fn crossentropy_forward(&self, losses: &mut [f32], logits: &[f32], targets: &[u32], v: usize) {
        let n = losses.len() as f64;
        let (nv, nvp) = (n * v as f64, logits.len() as f64);
        // max, exp, sum per real logit; log per row.
        let k = call(
            Kernel::CrossentropyForward,
            3.0 * nv + 2.0 * n,
            F * (nvp + 2.0 * n),
        );
        self.hook.before(&k);
        self.inner.crossentropy_forward(losses, logits, targets, v);
        self.hook.after(&k, losses);
    }
    fn crossentropy_forward_backward(
        &self,
        dlogits: &mut [f32],
        losses: &mut [f32],
        logits: &[f32],
        targets: &[u32],
        v: usize,
        dloss: f32,
    ) {
        let n = losses.len() as f64;
        let (nv, nvp) = (n * v as f64, logits.len() as f64);
        // forward (3 per logit) + softmax − onehot scaled (3 per logit); dlogits written in full.
        let k = call(
            Kernel::CrossentropyForwardBackward,
            6.0 * nv + 2.0 * n,
            F * (2.0 * nvp + 2.0 * n),
        );
        self.hook.before(&k);
        self.inner
            .crossentropy_forward_backward(dlogits, losses, logits, targets, v, dloss);
        self.hook.after(&k, dlogits);
    }
    fn adamw_update(&self, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: AdamWHyper) {
        let n = p.len() as f64;
        // decay, two moment updates, sqrt, bias corrections, divide, update: ~13 per parameter;
        // reads p, g, m, v and writes p, m, v.
        let k = call(Kernel::AdamwUpdate, 13.0 * n, F * 7.0 * n);
        self.hook.before(&k);
        self.inner.adamw_update(p, g, m, v, h);
        self.hook.after(&k, p);
    }
}
