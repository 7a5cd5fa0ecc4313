//! Preallocated activations for one (B, T) and the model's forward and backward passes
//! (DESIGN §2): embeddings, L pre-norm blocks, final norm, tied lm head, mean cross-entropy.
//! Which tensors exist comes from the family's [`ArchSpec`]; the kernels from the [`Backend`].

use crate::backend::{Backend, Cpu};
use crate::block::{self, BlockActs, Rope};
use crate::error::{Error, Result};
use crate::faults::Faults;
use crate::kernels::rope;
use crate::params::ParamLayout;
use crate::spec::{ArchSpec, Family, Role};
use crate::ModelConfig;

/// Activations (and gradient scratch) for one (B, T), allocated once when built.
/// [`Workspace::forward_backward`] allocates nothing.
///
/// Per-layer activations are stored in one buffer per kind, layer-major (`ln1` is (L, N, C)).
pub struct Workspace<B: Backend = Cpu> {
    be: B,
    cfg: ModelConfig,
    layout: ParamLayout,
    b: usize,
    t: usize,
    /// Whether `logits` holds the result of a forward pass.
    have_logits: bool,
    /// Keys past the causal mask each query may see: 0 in the real model (see
    /// [`Faults::attention_lookahead`]).
    attention_lookahead: usize,
    /// Which block code runs (from the spec's roles).
    family: Family,
    rope_cos: B::Buf, // (T, HS/2) rotary tables (Llama; empty for GPT-2)
    rope_sin: B::Buf, // (T, HS/2)
    encoded: B::Buf,  // (N, C) wte + wpe: the residual stream entering block 0
    ln1: B::Buf,      // (L, N, C)
    ln1_mean: B::Buf, // (L, N)
    ln1_rstd: B::Buf, // (L, N)
    qkv: B::Buf,      // (L, N, 3C)
    att: B::Buf,      // (L, B, NH, T, T) attention probabilities
    atty: B::Buf,     // (L, N, C) attention output before c_proj
    resid2: B::Buf,   // (L, N, C) residual stream after the attention branch
    ln2: B::Buf,      // (L, N, C)
    ln2_mean: B::Buf, // (L, N)
    ln2_rstd: B::Buf, // (L, N)
    fch: B::Buf,      // (L, N, F) c_fc output (GELU input); Llama: (L, N, 2F) gate | up
    fch_gelu: B::Buf, // (L, N, F) GELU output; Llama: the SwiGLU output
    resid3: B::Buf,   // (L, N, C) residual stream after the MLP branch
    lnf: B::Buf,      // (N, C)
    lnf_mean: B::Buf, // (N)
    lnf_rstd: B::Buf, // (N)
    logits: B::Buf,   // (N, Vp)
    losses: B::Buf,   // (N)
    // Gradient scratch, reused by every layer.
    dlogits: B::Buf, // (N, Vp)
    dresid: B::Buf,  // (N, C) gradient of the residual stream
    dln: B::Buf,     // (N, C) gradient of a LayerNorm output
    dqkv: B::Buf,    // (N, 3C)
    datt: B::Buf,    // (B, NH, T, T)
    datty: B::Buf,   // (N, C)
    dfch: B::Buf,    // (N, F); Llama: (N, 2F)
    dmlp: B::Buf,    // Llama: (N, F) gradient of the SwiGLU output; GPT-2: empty
    dwte_t: B::Buf,  // (C, Vp) the lm-head weight gradient, transposed (see matmul::backward_nt)
}

impl Workspace<Cpu> {
    /// Allocates every buffer for `batch` sequences of `seq_len` tokens (`seq_len <= block_size`)
    /// of `cfg`'s family, on the CPU.
    pub fn new(cfg: &ModelConfig, batch: usize, seq_len: usize) -> Result<Self> {
        Self::with_faults(cfg, batch, seq_len, &Faults::NONE)
    }

    /// As [`Workspace::new`], with test-only faults (planted bugs; see [`Faults`]).
    pub fn with_faults(
        cfg: &ModelConfig,
        batch: usize,
        seq_len: usize,
        faults: &Faults,
    ) -> Result<Self> {
        Self::build(Cpu, &cfg.spec(), cfg, batch, seq_len, faults)
    }

    /// A workspace for any architecture spec (its tensors, `cfg`'s dimensions), on the CPU.
    pub fn from_spec(
        spec: &ArchSpec,
        cfg: &ModelConfig,
        batch: usize,
        seq_len: usize,
    ) -> Result<Self> {
        Self::build(Cpu, spec, cfg, batch, seq_len, &Faults::NONE)
    }
}

impl<B: Backend> Workspace<B> {
    /// The general constructor: backend, spec, dimensions and faults.
    pub fn build(
        be: B,
        spec: &ArchSpec,
        cfg: &ModelConfig,
        batch: usize,
        seq_len: usize,
        faults: &Faults,
    ) -> Result<Self> {
        cfg.validate()?;
        spec.validate()?;
        if batch == 0 {
            return Err(Error::ZeroBatch);
        }
        if seq_len == 0 || seq_len > cfg.block_size {
            return Err(Error::SeqLen {
                seq_len,
                block_size: cfg.block_size,
            });
        }
        let (l, c, nh, f) = (cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.ffn_width());
        let n = batch * seq_len;
        let vp = cfg.padded_vocab_size();
        let z = |len: usize| be.alloc(len);
        let att_len = batch * nh * seq_len * seq_len;
        let family = spec.family();
        let llama = family == Family::Llama;
        // Llama's MLP input projection yields gate | up side by side.
        let fw = if llama { 2 * f } else { f };
        let (rope_cos, rope_sin) = if llama {
            let (cos, sin) = rope::table(cfg.rope_theta(), c / nh, seq_len);
            let (mut cb, mut sb) = (z(cos.len()), z(sin.len()));
            cb.copy_from_slice(&cos);
            sb.copy_from_slice(&sin);
            (cb, sb)
        } else {
            (z(0), z(0))
        };
        Ok(Workspace {
            cfg: cfg.clone(),
            layout: ParamLayout::from_spec(spec, cfg.n_layer),
            b: batch,
            t: seq_len,
            have_logits: false,
            attention_lookahead: faults.attention_lookahead,
            family,
            rope_cos,
            rope_sin,
            encoded: z(n * c),
            ln1: z(l * n * c),
            ln1_mean: z(l * n),
            ln1_rstd: z(l * n),
            qkv: z(l * n * 3 * c),
            att: z(l * att_len),
            atty: z(l * n * c),
            resid2: z(l * n * c),
            ln2: z(l * n * c),
            ln2_mean: z(l * n),
            ln2_rstd: z(l * n),
            fch: z(l * n * fw),
            fch_gelu: z(l * n * f),
            resid3: z(l * n * c),
            lnf: z(n * c),
            lnf_mean: z(n),
            lnf_rstd: z(n),
            logits: z(n * vp),
            losses: z(n),
            dlogits: z(n * vp),
            dresid: z(n * c),
            dln: z(n * c),
            dqkv: z(n * 3 * c),
            datt: z(att_len),
            datty: z(n * c),
            dfch: z(n * fw),
            dmlp: z(if llama { n * f } else { 0 }),
            dwte_t: z(c * vp),
            be,
        })
    }

    /// The parameter layout this workspace reads (from its spec).
    pub fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    /// The model's dimensions.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// The backend running the kernels.
    pub fn backend(&self) -> &B {
        &self.be
    }

    /// Batch size B.
    pub fn batch(&self) -> usize {
        self.b
    }

    /// Sequence length T.
    pub fn seq_len(&self) -> usize {
        self.t
    }

    fn check_tokens(&self, what: &'static str, toks: &[u32]) -> Result<()> {
        let n = self.b * self.t;
        if toks.len() != n {
            return Err(Error::Length {
                what,
                expected: n,
                got: toks.len(),
            });
        }
        let v = self.cfg.vocab_size;
        match toks.iter().position(|&x| x as usize >= v) {
            Some(index) => Err(Error::TokenOutOfRange {
                what,
                index,
                token: toks[index],
                vocab_size: v,
            }),
            None => Ok(()),
        }
    }

    fn check(&self, params: &[f32], inputs: &[u32], targets: &[u32]) -> Result<()> {
        if params.len() != self.layout.len {
            return Err(Error::Length {
                what: "params",
                expected: self.layout.len,
                got: params.len(),
            });
        }
        self.check_tokens("inputs", inputs)?;
        self.check_tokens("targets", targets)
    }

    /// Forward + backward on one micro-batch. `inputs`/`targets`: B·T token ids (row-major).
    /// ADDS `loss_scale · d(mean CE)/d(param)` into `grads` (the trainer passes 1/grad_accum).
    /// Returns the mean cross-entropy (nats/token) of this micro-batch; a non-finite loss is
    /// returned as is (the caller's health monitor decides).
    pub fn forward_backward(
        &mut self,
        params: &[f32],
        grads: &mut [f32],
        inputs: &[u32],
        targets: &[u32],
        loss_scale: f32,
    ) -> Result<f32> {
        self.check(params, inputs, targets)?;
        if grads.len() != self.layout.len {
            return Err(Error::Length {
                what: "grads",
                expected: self.layout.len,
                got: grads.len(),
            });
        }
        // One job on the pool for the whole pass: the kernels' parallel loops then run on worker
        // threads that are already awake instead of each being injected from outside the pool.
        rayon::scope(|_| {
            self.forward(params, inputs);
            let n = self.b * self.t;
            self.be.crossentropy_forward_backward(
                &mut self.dlogits,
                &mut self.losses,
                &self.logits,
                targets,
                self.cfg.vocab_size,
                loss_scale / n as f32,
            );
            self.backward(params, grads, inputs);
        });
        self.be.sync();
        Ok(self.mean_loss())
    }

    /// Forward only; returns the mean cross-entropy (nats/token). Used by eval.
    pub fn forward_loss(&mut self, params: &[f32], inputs: &[u32], targets: &[u32]) -> Result<f32> {
        self.check(params, inputs, targets)?;
        rayon::scope(|_| {
            self.forward(params, inputs);
            self.be.crossentropy_forward(
                &mut self.losses,
                &self.logits,
                targets,
                self.cfg.vocab_size,
            );
        });
        self.be.sync();
        Ok(self.mean_loss())
    }

    /// Logits of the last forward, (B, T, V) row-major with the padding removed (a copy).
    /// Empty before the first forward.
    pub fn logits(&self) -> Vec<f32> {
        if !self.have_logits {
            return Vec::new();
        }
        let (v, vp) = (self.cfg.vocab_size, self.cfg.padded_vocab_size());
        self.logits
            .chunks_exact(vp)
            .flat_map(|row| &row[..v])
            .copied()
            .collect()
    }

    /// Mean of the per-token losses, summed in f64 in token order.
    fn mean_loss(&self) -> f32 {
        (self.losses.iter().map(|&l| l as f64).sum::<f64>() / self.losses.len() as f64) as f32
    }

    fn forward(&mut self, params: &[f32], inputs: &[u32]) {
        if self.family == Family::Llama {
            return self.forward_llama(params, inputs);
        }
        let (b, t, c, nh) = (self.b, self.t, self.cfg.n_embd, self.cfg.n_head);
        let f = self.cfg.ffn_width();
        let n = b * t;
        let vp = self.cfg.padded_vocab_size();
        let views = self.layout.views();
        let be = &self.be;
        let wte = views.global(params, Role::TokenEmbedding);
        let wpe = views.global(params, Role::PositionEmbedding);
        be.embedding_forward(&mut self.encoded, inputs, wte, wpe, t, c);
        let att_len = b * nh * t * t;
        let lookahead = self.attention_lookahead;
        for l in 0..self.cfg.n_layer {
            let p = views.block(params, l);
            let (rc, rc3, rcf, rn) = (
                l * n * c..(l + 1) * n * c,
                l * n * 3 * c..(l + 1) * n * 3 * c,
                l * n * f..(l + 1) * n * f,
                l * n..(l + 1) * n,
            );
            // Block l reads the residual stream block l − 1 wrote.
            let (done, rest) = self.resid3.split_at_mut(l * n * c);
            let resid: &[f32] = if l == 0 {
                &self.encoded
            } else {
                &done[(l - 1) * n * c..]
            };
            let acts = BlockActs {
                ln1: &mut self.ln1[rc.clone()],
                ln1_mean: &mut self.ln1_mean[rn.clone()],
                ln1_rstd: &mut self.ln1_rstd[rn.clone()],
                qkv: &mut self.qkv[rc3],
                atty: &mut self.atty[rc.clone()],
                resid2: &mut self.resid2[rc.clone()],
                ln2: &mut self.ln2[rc],
                ln2_mean: &mut self.ln2_mean[rn.clone()],
                ln2_rstd: &mut self.ln2_rstd[rn],
                fch: &mut self.fch[rcf.clone()],
                fch_gelu: &mut self.fch_gelu[rcf],
            };
            let att = &mut self.att[l * att_len..(l + 1) * att_len];
            block::forward(be, &p, acts, resid, &mut rest[..n * c], c, f, |y, qkv| {
                be.attention_forward(y, att, qkv, b, t, c, nh, lookahead)
            });
        }
        let l = self.cfg.n_layer;
        let last = &self.resid3[(l - 1) * n * c..l * n * c];
        be.layernorm_forward(
            &mut self.lnf,
            &mut self.lnf_mean,
            &mut self.lnf_rstd,
            last,
            views.global(params, Role::FinalNormWeight),
            views.global(params, Role::FinalNormBias),
        );
        // Tied head: logits = lnf · wteᵀ (padded wte rows are zero, so padded logits are 0).
        be.matmul_nt_forward(&mut self.logits, &self.lnf, wte, c, vp);
        self.have_logits = true;
    }

    /// Backward of `forward`, given `dlogits`; adds into `grads`.
    fn backward(&mut self, params: &[f32], grads: &mut [f32], inputs: &[u32]) {
        if self.family == Family::Llama {
            return self.backward_llama(params, grads, inputs);
        }
        use Role::*;
        let (b, t, c, nh) = (self.b, self.t, self.cfg.n_embd, self.cfg.n_head);
        let f = self.cfg.ffn_width();
        let n = b * t;
        let vp = self.cfg.padded_vocab_size();
        let nl = self.cfg.n_layer;
        let views = self.layout.views();
        let be = &self.be;
        let att_len = b * nh * t * t;
        let lookahead = self.attention_lookahead;
        {
            let mut g = views.globals_mut(grads);
            // logits = lnf · wteᵀ  ⇒  dlnf = dlogits · wte, dwte += dlogitsᵀ · lnf.
            be.matmul_nt_backward(
                &mut self.dln,
                g.take(TokenEmbedding),
                Some(&mut self.dwte_t),
                &self.dlogits,
                &self.lnf,
                views.global(params, TokenEmbedding),
                c,
                vp,
                false,
            );
            self.dresid.fill(0.0);
            let last = &self.resid3[(nl - 1) * n * c..nl * n * c];
            be.layernorm_backward(
                &mut self.dresid,
                g.take(FinalNormWeight),
                g.take(FinalNormBias),
                &self.dln,
                last,
                views.global(params, FinalNormWeight),
                &self.lnf_mean,
                &self.lnf_rstd,
            );
        }
        for l in (0..nl).rev() {
            let p = views.block(params, l);
            let mut g = views.block_mut(grads, l);
            let (rc, rc3, rcf, rn) = (
                l * n * c..(l + 1) * n * c,
                l * n * 3 * c..(l + 1) * n * 3 * c,
                l * n * f..(l + 1) * n * f,
                l * n..(l + 1) * n,
            );
            let resid: &[f32] = if l == 0 {
                &self.encoded
            } else {
                &self.resid3[(l - 1) * n * c..l * n * c]
            };
            // self.dresid holds d(resid3). MLP branch: resid3 = resid2 + gelu(ln2·Wfc + bfc)·Wp + bp.
            be.matmul_backward_input(
                &mut self.dfch,
                &self.dresid,
                p.req(FcProjWeight),
                f,
                c,
                false,
            );
            be.matmul_backward_weight(
                g.take(FcProjWeight),
                g.take_opt(FcProjBias),
                &self.dresid,
                &self.fch_gelu[rcf.clone()],
                f,
                c,
            );
            be.gelu_backward_inplace(&mut self.dfch, &self.fch[rcf]);
            be.matmul_backward_input(&mut self.dln, &self.dfch, p.req(FcWeight), c, f, false);
            be.matmul_backward_weight(
                g.take(FcWeight),
                g.take_opt(FcBias),
                &self.dfch,
                &self.ln2[rc.clone()],
                c,
                f,
            );
            be.layernorm_backward(
                &mut self.dresid,
                g.take(Norm2Weight),
                g.take(Norm2Bias),
                &self.dln,
                &self.resid2[rc.clone()],
                p.req(Norm2Weight),
                &self.ln2_mean[rn.clone()],
                &self.ln2_rstd[rn.clone()],
            );
            // self.dresid holds d(resid2). Attention branch: resid2 = resid + attn(ln1)·Wap + bap.
            be.matmul_backward_input(
                &mut self.datty,
                &self.dresid,
                p.req(AttnProjWeight),
                c,
                c,
                false,
            );
            be.matmul_backward_weight(
                g.take(AttnProjWeight),
                g.take_opt(AttnProjBias),
                &self.dresid,
                &self.atty[rc.clone()],
                c,
                c,
            );
            let (qkv, att) = (&self.qkv[rc3], &self.att[l * att_len..(l + 1) * att_len]);
            be.attention_backward(
                &mut self.dqkv,
                &mut self.datt,
                &self.datty,
                qkv,
                att,
                b,
                t,
                c,
                nh,
                false,
                lookahead,
            );
            be.matmul_backward_input(&mut self.dln, &self.dqkv, p.req(QkvWeight), c, 3 * c, false);
            be.matmul_backward_weight(
                g.take(QkvWeight),
                g.take_opt(QkvBias),
                &self.dqkv,
                &self.ln1[rc.clone()],
                c,
                3 * c,
            );
            be.layernorm_backward(
                &mut self.dresid,
                g.take(Norm1Weight),
                g.take(Norm1Bias),
                &self.dln,
                resid,
                p.req(Norm1Weight),
                &self.ln1_mean[rn.clone()],
                &self.ln1_rstd[rn],
            );
            // self.dresid now holds d(resid), the gradient entering block l.
        }
        let mut g = views.globals_mut(grads);
        be.embedding_backward(
            g.take(TokenEmbedding),
            g.take(PositionEmbedding),
            &self.dresid,
            inputs,
            t,
            c,
        );
    }

    /// The Llama forward pass (`block::forward_llama`): token embedding, L blocks with rotary
    /// attention and SwiGLU, final RMSNorm, tied or untied head.
    fn forward_llama(&mut self, params: &[f32], inputs: &[u32]) {
        let (b, t, c, nh) = (self.b, self.t, self.cfg.n_embd, self.cfg.n_head);
        let f = self.cfg.ffn_width();
        let eps = self.cfg.norm_eps();
        let n = b * t;
        let vp = self.cfg.padded_vocab_size();
        let views = self.layout.views();
        let be = &self.be;
        let wte = views.global(params, Role::TokenEmbedding);
        be.token_embedding_forward(&mut self.encoded, inputs, wte, c);
        let att_len = b * nh * t * t;
        let lookahead = self.attention_lookahead;
        let rope = Rope {
            cos: &self.rope_cos,
            sin: &self.rope_sin,
            t,
            nh,
            pos0: 0,
        };
        for l in 0..self.cfg.n_layer {
            let p = views.block(params, l);
            let (rc, rc3, rcf, rcf2, rn) = (
                l * n * c..(l + 1) * n * c,
                l * n * 3 * c..(l + 1) * n * 3 * c,
                l * n * f..(l + 1) * n * f,
                l * n * 2 * f..(l + 1) * n * 2 * f,
                l * n..(l + 1) * n,
            );
            let (done, rest) = self.resid3.split_at_mut(l * n * c);
            let resid: &[f32] = if l == 0 {
                &self.encoded
            } else {
                &done[(l - 1) * n * c..]
            };
            let acts = BlockActs {
                ln1: &mut self.ln1[rc.clone()],
                ln1_mean: &mut self.ln1_mean[rn.clone()],
                ln1_rstd: &mut self.ln1_rstd[rn.clone()],
                qkv: &mut self.qkv[rc3],
                atty: &mut self.atty[rc.clone()],
                resid2: &mut self.resid2[rc.clone()],
                ln2: &mut self.ln2[rc],
                ln2_mean: &mut self.ln2_mean[rn.clone()],
                ln2_rstd: &mut self.ln2_rstd[rn],
                fch: &mut self.fch[rcf2],
                fch_gelu: &mut self.fch_gelu[rcf],
            };
            let att = &mut self.att[l * att_len..(l + 1) * att_len];
            let out = &mut rest[..n * c];
            block::forward_llama(be, &p, acts, resid, out, c, f, eps, &rope, |y, qkv| {
                be.attention_forward(y, att, qkv, b, t, c, nh, lookahead)
            });
        }
        let l = self.cfg.n_layer;
        let last = &self.resid3[(l - 1) * n * c..l * n * c];
        be.rmsnorm_forward(
            &mut self.lnf,
            &mut self.lnf_rstd,
            last,
            views.global(params, Role::FinalNormWeight),
            eps,
        );
        let head = self.head(params);
        self.be
            .matmul_nt_forward(&mut self.logits, &self.lnf, head, c, vp);
        self.have_logits = true;
    }

    /// The output head's weight (Vp, C): `lm_head` when the spec has one, else the embedding.
    fn head<'a>(&self, params: &'a [f32]) -> &'a [f32] {
        let views = self.layout.views();
        if self.layout.has(Role::LmHead) {
            views.global(params, Role::LmHead)
        } else {
            views.global(params, Role::TokenEmbedding)
        }
    }

    /// Backward of `forward_llama`, given `dlogits`; adds into `grads`.
    fn backward_llama(&mut self, params: &[f32], grads: &mut [f32], inputs: &[u32]) {
        use Role::*;
        let (b, t, c, nh) = (self.b, self.t, self.cfg.n_embd, self.cfg.n_head);
        let f = self.cfg.ffn_width();
        let n = b * t;
        let vp = self.cfg.padded_vocab_size();
        let nl = self.cfg.n_layer;
        let views = self.layout.views();
        let untied = self.layout.has(LmHead);
        let head = self.head(params);
        let be = &self.be;
        let att_len = b * nh * t * t;
        let lookahead = self.attention_lookahead;
        {
            let mut g = views.globals_mut(grads);
            let dhead = g.take(if untied { LmHead } else { TokenEmbedding });
            // logits = lnf · headᵀ  ⇒  dlnf = dlogits · head, dhead += dlogitsᵀ · lnf.
            be.matmul_nt_backward(
                &mut self.dln,
                dhead,
                Some(&mut self.dwte_t),
                &self.dlogits,
                &self.lnf,
                head,
                c,
                vp,
                false,
            );
            self.dresid.fill(0.0);
            let last = &self.resid3[(nl - 1) * n * c..nl * n * c];
            be.rmsnorm_backward(
                &mut self.dresid,
                g.take(FinalNormWeight),
                &self.dln,
                last,
                views.global(params, FinalNormWeight),
                &self.lnf_rstd,
            );
        }
        for l in (0..nl).rev() {
            let p = views.block(params, l);
            let mut g = views.block_mut(grads, l);
            let (rc, rc3, rcf, rcf2, rn) = (
                l * n * c..(l + 1) * n * c,
                l * n * 3 * c..(l + 1) * n * 3 * c,
                l * n * f..(l + 1) * n * f,
                l * n * 2 * f..(l + 1) * n * 2 * f,
                l * n..(l + 1) * n,
            );
            let resid: &[f32] = if l == 0 {
                &self.encoded
            } else {
                &self.resid3[(l - 1) * n * c..l * n * c]
            };
            // self.dresid holds d(resid3). MLP: resid3 = resid2 + swiglu(ln2·Wguᵀ)·Wdᵀ.
            be.matmul_nt_backward(
                &mut self.dmlp,
                g.take(DownProj),
                None,
                &self.dresid,
                &self.fch_gelu[rcf],
                p.req(DownProj),
                f,
                c,
                false,
            );
            be.swiglu_backward(&mut self.dfch, &self.dmlp, &self.fch[rcf2], f);
            be.matmul_nt_backward(
                &mut self.dln,
                g.take(GateUpLinear),
                None,
                &self.dfch,
                &self.ln2[rc.clone()],
                p.req(GateUpLinear),
                c,
                2 * f,
                false,
            );
            be.rmsnorm_backward(
                &mut self.dresid,
                g.take(Norm2Weight),
                &self.dln,
                &self.resid2[rc.clone()],
                p.req(Norm2Weight),
                &self.ln2_rstd[rn.clone()],
            );
            // self.dresid holds d(resid2). Attention: resid2 = resid + attn(rope(ln1·Wqkvᵀ))·Woᵀ.
            be.matmul_nt_backward(
                &mut self.datty,
                g.take(OProj),
                None,
                &self.dresid,
                &self.atty[rc.clone()],
                p.req(OProj),
                c,
                c,
                false,
            );
            let (qkv, att) = (&self.qkv[rc3], &self.att[l * att_len..(l + 1) * att_len]);
            be.attention_backward(
                &mut self.dqkv,
                &mut self.datt,
                &self.datty,
                qkv,
                att,
                b,
                t,
                c,
                nh,
                false,
                lookahead,
            );
            be.rope_backward(&mut self.dqkv, &self.rope_cos, &self.rope_sin, t, c, nh, 0);
            be.matmul_nt_backward(
                &mut self.dln,
                g.take(QkvLinear),
                None,
                &self.dqkv,
                &self.ln1[rc],
                p.req(QkvLinear),
                c,
                3 * c,
                false,
            );
            be.rmsnorm_backward(
                &mut self.dresid,
                g.take(Norm1Weight),
                &self.dln,
                resid,
                p.req(Norm1Weight),
                &self.ln1_rstd[rn],
            );
        }
        let mut g = views.globals_mut(grads);
        be.token_embedding_backward(g.take(TokenEmbedding), &self.dresid, inputs, c);
    }
}
