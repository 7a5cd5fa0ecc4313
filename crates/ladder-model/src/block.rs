//! The pre-norm transformer block's forward pass, written once and shared by training
//! ([`crate::Workspace`], all B·T rows) and decoding ([`crate::KvCache`], one row): only the
//! attention step differs (full causal attention over the batch vs. the cached keys), and the
//! caller passes it in.

use crate::backend::Backend;
use crate::params::Parts;
use crate::spec::Role;

/// Where one block's activations go (N rows each; the training forward keeps them for the
/// backward pass, decoding reuses one row of scratch).
pub(crate) struct BlockActs<'a> {
    pub ln1: &'a mut [f32],      // (N, C)
    pub ln1_mean: &'a mut [f32], // (N)
    pub ln1_rstd: &'a mut [f32], // (N)
    pub qkv: &'a mut [f32],      // (N, 3C)
    pub atty: &'a mut [f32],     // (N, C) attention output before its projection
    pub resid2: &'a mut [f32],   // (N, C) residual stream after the attention branch
    pub ln2: &'a mut [f32],      // (N, C)
    pub ln2_mean: &'a mut [f32], // (N)
    pub ln2_rstd: &'a mut [f32], // (N)
    pub fch: &'a mut [f32],      // (N, F) MLP hidden before GELU
    pub fch_gelu: &'a mut [f32], // (N, F)
}

/// `out = resid2 + proj(gelu(fc(norm2(resid2))))` with
/// `resid2 = resid + proj(attend(qkv(norm1(resid))))`; biases only where the spec has them.
/// `attend(y, qkv)` writes the attention output `y` (N, C) from `qkv` (N, 3C).
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward<B: Backend>(
    be: &B,
    p: &Parts<&[f32]>,
    a: BlockActs<'_>,
    resid: &[f32],
    out: &mut [f32],
    c: usize,
    f: usize,
    attend: impl FnOnce(&mut [f32], &[f32]),
) {
    use Role::*;
    be.layernorm_forward(
        a.ln1,
        a.ln1_mean,
        a.ln1_rstd,
        resid,
        p.req(Norm1Weight),
        p.req(Norm1Bias),
    );
    be.matmul_forward(a.qkv, a.ln1, p.req(QkvWeight), p.opt(QkvBias), c, 3 * c);
    attend(a.atty, a.qkv);
    be.matmul_forward_residual(
        a.resid2,
        resid,
        a.atty,
        p.req(AttnProjWeight),
        p.opt(AttnProjBias),
        c,
        c,
    );
    be.layernorm_forward(
        a.ln2,
        a.ln2_mean,
        a.ln2_rstd,
        a.resid2,
        p.req(Norm2Weight),
        p.req(Norm2Bias),
    );
    be.matmul_forward(a.fch, a.ln2, p.req(FcWeight), p.opt(FcBias), c, f);
    be.gelu_forward(a.fch_gelu, a.fch);
    be.matmul_forward_residual(
        out,
        a.resid2,
        a.fch_gelu,
        p.req(FcProjWeight),
        p.opt(FcProjBias),
        f,
        c,
    );
}

/// Rotary angles for the rows of one forward: row r is at position `pos0 + r % t`.
pub(crate) struct Rope<'a> {
    pub cos: &'a [f32],
    pub sin: &'a [f32],
    pub t: usize,
    pub nh: usize,
    pub pos0: usize,
}

/// The Llama block (HF `LlamaDecoderLayer`):
/// `out = resid2 + down(silu(gate(n2)) ⊙ up(n2))`, `n2 = rmsnorm2(resid2)`,
/// `resid2 = resid + o(attend(rope(qkv(rmsnorm1(resid)))))`. `a.fch` holds gate | up (N, 2F),
/// `a.fch_gelu` the SwiGLU output (N, F), `a.qkv` the rotated q, k and v; the norms save 1/rms
/// in `ln*_rstd` (`ln*_mean` unused).
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_llama<B: Backend>(
    be: &B,
    p: &Parts<&[f32]>,
    a: BlockActs<'_>,
    resid: &[f32],
    out: &mut [f32],
    c: usize,
    f: usize,
    eps: f32,
    rope: &Rope<'_>,
    attend: impl FnOnce(&mut [f32], &[f32]),
) {
    use Role::*;
    be.rmsnorm_forward(a.ln1, a.ln1_rstd, resid, p.req(Norm1Weight), eps);
    be.matmul_nt_forward(a.qkv, a.ln1, p.req(QkvLinear), c, 3 * c);
    be.rope_forward(a.qkv, rope.cos, rope.sin, rope.t, c, rope.nh, rope.pos0);
    attend(a.atty, a.qkv);
    be.matmul_nt_forward_residual(a.resid2, resid, a.atty, p.req(OProj), c, c);
    be.rmsnorm_forward(a.ln2, a.ln2_rstd, a.resid2, p.req(Norm2Weight), eps);
    be.matmul_nt_forward(a.fch, a.ln2, p.req(GateUpLinear), c, 2 * f);
    be.swiglu_forward(a.fch_gelu, a.fch, f);
    be.matmul_nt_forward_residual(out, a.resid2, a.fch_gelu, p.req(DownProj), f, c);
}
