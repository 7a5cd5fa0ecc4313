//! Preallocated activations for one (B, T) and the model's forward and backward passes
//! (DESIGN §2): embeddings, L pre-LN blocks, `ln_f`, tied lm head, mean cross-entropy.

use crate::error::{Error, Result};
use crate::kernels::{attention, crossentropy, embedding, gelu, layernorm, matmul};
use crate::params::Offsets;
use crate::ModelConfig;

/// Activations (and gradient scratch) for one (B, T), allocated once in [`Workspace::new`].
/// [`Workspace::forward_backward`] allocates nothing.
///
/// Per-layer activations are stored in one buffer per kind, layer-major (`ln1` is (L, N, C)).
pub struct Workspace {
    cfg: ModelConfig,
    off: Offsets,
    b: usize,
    t: usize,
    /// Whether `logits` holds the result of a forward pass.
    have_logits: bool,
    /// Keys past the causal mask each query may see: 0 in the real model; > 0 only for the planted
    /// `causal-leak` bug (see [`Workspace::plant_causal_leak`]).
    attention_lookahead: usize,
    encoded: Vec<f32>,  // (N, C) wte + wpe: the residual stream entering block 0
    ln1: Vec<f32>,      // (L, N, C)
    ln1_mean: Vec<f32>, // (L, N)
    ln1_rstd: Vec<f32>, // (L, N)
    qkv: Vec<f32>,      // (L, N, 3C)
    att: Vec<f32>,      // (L, B, NH, T, T) attention probabilities
    atty: Vec<f32>,     // (L, N, C) attention output before c_proj
    resid2: Vec<f32>,   // (L, N, C) residual stream after the attention branch
    ln2: Vec<f32>,      // (L, N, C)
    ln2_mean: Vec<f32>, // (L, N)
    ln2_rstd: Vec<f32>, // (L, N)
    fch: Vec<f32>,      // (L, N, 4C) c_fc output (GELU input)
    fch_gelu: Vec<f32>, // (L, N, 4C)
    resid3: Vec<f32>,   // (L, N, C) residual stream after the MLP branch
    lnf: Vec<f32>,      // (N, C)
    lnf_mean: Vec<f32>, // (N)
    lnf_rstd: Vec<f32>, // (N)
    logits: Vec<f32>,   // (N, Vp)
    losses: Vec<f32>,   // (N)
    // Gradient scratch, reused by every layer.
    dlogits: Vec<f32>, // (N, Vp)
    dresid: Vec<f32>,  // (N, C) gradient of the residual stream
    dln: Vec<f32>,     // (N, C) gradient of a LayerNorm output
    dqkv: Vec<f32>,    // (N, 3C)
    datt: Vec<f32>,    // (B, NH, T, T)
    datty: Vec<f32>,   // (N, C)
    dfch: Vec<f32>,    // (N, 4C)
    dwte_t: Vec<f32>,  // (C, Vp) the lm-head weight gradient, transposed (see matmul::backward_nt)
}

impl Workspace {
    /// Allocates every buffer for `batch` sequences of `seq_len` tokens (`seq_len <= block_size`).
    pub fn new(cfg: &ModelConfig, batch: usize, seq_len: usize) -> Result<Self> {
        cfg.validate()?;
        if batch == 0 {
            return Err(Error::ZeroBatch);
        }
        if seq_len == 0 || seq_len > cfg.block_size {
            return Err(Error::SeqLen {
                seq_len,
                block_size: cfg.block_size,
            });
        }
        let (l, c, nh) = (cfg.n_layer, cfg.n_embd, cfg.n_head);
        let n = batch * seq_len;
        let vp = cfg.padded_vocab_size();
        let z = |len: usize| vec![0.0f32; len];
        let att_len = batch * nh * seq_len * seq_len;
        Ok(Workspace {
            cfg: cfg.clone(),
            off: Offsets::new(cfg),
            b: batch,
            t: seq_len,
            have_logits: false,
            attention_lookahead: 0,
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
            fch: z(l * n * 4 * c),
            fch_gelu: z(l * n * 4 * c),
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
            dfch: z(n * 4 * c),
            dwte_t: z(c * vp),
        })
    }

    /// Batch size B.
    pub fn batch(&self) -> usize {
        self.b
    }

    /// Sequence length T.
    pub fn seq_len(&self) -> usize {
        self.t
    }

    /// A testing aid for diagnosis, never for real training: lets position i attend to position
    /// i + 1 (its own target), the classic leaky-mask bug. Forward and backward stay consistent,
    /// so the model trains "well" on leaked targets while its honest loss is wrong.
    pub fn plant_causal_leak(&mut self, leak: bool) {
        self.attention_lookahead = usize::from(leak);
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
        if params.len() != self.off.len {
            return Err(Error::Length {
                what: "params",
                expected: self.off.len,
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
        if grads.len() != self.off.len {
            return Err(Error::Length {
                what: "grads",
                expected: self.off.len,
                got: grads.len(),
            });
        }
        // One job on the pool for the whole pass: the kernels' parallel loops then run on worker
        // threads that are already awake instead of each being injected from outside the pool.
        rayon::scope(|_| {
            self.forward(params, inputs);
            let n = self.b * self.t;
            crossentropy::forward_backward(
                &mut self.dlogits,
                &mut self.losses,
                &self.logits,
                targets,
                self.cfg.vocab_size,
                loss_scale / n as f32,
            );
            self.backward(params, grads, inputs);
        });
        Ok(self.mean_loss())
    }

    /// Forward only; returns the mean cross-entropy (nats/token). Used by eval.
    pub fn forward_loss(&mut self, params: &[f32], inputs: &[u32], targets: &[u32]) -> Result<f32> {
        self.check(params, inputs, targets)?;
        rayon::scope(|_| {
            self.forward(params, inputs);
            crossentropy::forward(&mut self.losses, &self.logits, targets, self.cfg.vocab_size);
        });
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
        let (b, t, c, nh) = (self.b, self.t, self.cfg.n_embd, self.cfg.n_head);
        let n = b * t;
        let vp = self.cfg.padded_vocab_size();
        let off = self.off;
        let wte = off.wte(params);
        embedding::forward(&mut self.encoded, inputs, wte, off.wpe(params), t, c);
        let att_len = b * nh * t * t;
        for l in 0..self.cfg.n_layer {
            let p = off.block(params, l);
            let (rc, rc3, rc4, rn) = (
                l * n * c..(l + 1) * n * c,
                l * n * 3 * c..(l + 1) * n * 3 * c,
                l * n * 4 * c..(l + 1) * n * 4 * c,
                l * n..(l + 1) * n,
            );
            let resid: &[f32] = if l == 0 {
                &self.encoded
            } else {
                &self.resid3[(l - 1) * n * c..l * n * c]
            };
            let ln1 = &mut self.ln1[rc.clone()];
            layernorm::forward(
                ln1,
                &mut self.ln1_mean[rn.clone()],
                &mut self.ln1_rstd[rn.clone()],
                resid,
                p.ln1_w,
                p.ln1_b,
            );
            let qkv = &mut self.qkv[rc3.clone()];
            matmul::forward(qkv, ln1, p.qkv_w, Some(p.qkv_b), c, 3 * c);
            let atty = &mut self.atty[rc.clone()];
            attention::forward_impl(
                atty,
                &mut self.att[l * att_len..(l + 1) * att_len],
                qkv,
                b,
                t,
                c,
                nh,
                self.attention_lookahead,
            );
            let resid2 = &mut self.resid2[rc.clone()];
            matmul::forward_residual(resid2, resid, atty, p.attproj_w, p.attproj_b, c, c);
            let ln2 = &mut self.ln2[rc.clone()];
            layernorm::forward(
                ln2,
                &mut self.ln2_mean[rn.clone()],
                &mut self.ln2_rstd[rn],
                resid2,
                p.ln2_w,
                p.ln2_b,
            );
            let fch = &mut self.fch[rc4.clone()];
            matmul::forward(fch, ln2, p.fc_w, Some(p.fc_b), c, 4 * c);
            let fch_gelu = &mut self.fch_gelu[rc4];
            gelu::forward(fch_gelu, fch);
            matmul::forward_residual(
                &mut self.resid3[rc],
                resid2,
                fch_gelu,
                p.fcproj_w,
                p.fcproj_b,
                4 * c,
                c,
            );
        }
        let l = self.cfg.n_layer;
        let last = &self.resid3[(l - 1) * n * c..l * n * c];
        let (w, bias) = off.lnf(params);
        layernorm::forward(
            &mut self.lnf,
            &mut self.lnf_mean,
            &mut self.lnf_rstd,
            last,
            w,
            bias,
        );
        // Tied head: logits = lnf · wteᵀ (padded wte rows are zero, so padded logits are 0).
        matmul::forward_nt(&mut self.logits, &self.lnf, wte, c, vp);
        self.have_logits = true;
    }

    /// Backward of `forward`, given `dlogits`; adds into `grads`.
    fn backward(&mut self, params: &[f32], grads: &mut [f32], inputs: &[u32]) {
        let (b, t, c, nh) = (self.b, self.t, self.cfg.n_embd, self.cfg.n_head);
        let n = b * t;
        let vp = self.cfg.padded_vocab_size();
        let nl = self.cfg.n_layer;
        let off = self.off;
        let att_len = b * nh * t * t;
        {
            let (dwte, _, (dlnf_w, dlnf_b)) = off.embeddings_and_lnf_mut(grads);
            // logits = lnf · wteᵀ  ⇒  dlnf = dlogits · wte, dwte += dlogitsᵀ · lnf.
            matmul::backward_nt(
                &mut self.dln,
                dwte,
                Some(&mut self.dwte_t),
                &self.dlogits,
                &self.lnf,
                off.wte(params),
                c,
                vp,
                false,
            );
            self.dresid.fill(0.0);
            let (w, _) = off.lnf(params);
            let last = &self.resid3[(nl - 1) * n * c..nl * n * c];
            layernorm::backward(
                &mut self.dresid,
                dlnf_w,
                dlnf_b,
                &self.dln,
                last,
                w,
                &self.lnf_mean,
                &self.lnf_rstd,
            );
        }
        for l in (0..nl).rev() {
            let p = off.block(params, l);
            let g = off.block_mut(grads, l);
            let (rc, rc3, rc4, rn) = (
                l * n * c..(l + 1) * n * c,
                l * n * 3 * c..(l + 1) * n * 3 * c,
                l * n * 4 * c..(l + 1) * n * 4 * c,
                l * n..(l + 1) * n,
            );
            let resid: &[f32] = if l == 0 {
                &self.encoded
            } else {
                &self.resid3[(l - 1) * n * c..l * n * c]
            };
            // self.dresid holds d(resid3). MLP branch: resid3 = resid2 + gelu(ln2·Wfc + bfc)·Wp + bp.
            matmul::backward_input(&mut self.dfch, &self.dresid, p.fcproj_w, 4 * c, c, false);
            matmul::backward_weight(
                g.fcproj_w,
                Some(g.fcproj_b),
                &self.dresid,
                &self.fch_gelu[rc4.clone()],
                4 * c,
                c,
            );
            gelu::backward_inplace(&mut self.dfch, &self.fch[rc4.clone()]);
            matmul::backward_input(&mut self.dln, &self.dfch, p.fc_w, c, 4 * c, false);
            matmul::backward_weight(
                g.fc_w,
                Some(g.fc_b),
                &self.dfch,
                &self.ln2[rc.clone()],
                c,
                4 * c,
            );
            layernorm::backward(
                &mut self.dresid,
                g.ln2_w,
                g.ln2_b,
                &self.dln,
                &self.resid2[rc.clone()],
                p.ln2_w,
                &self.ln2_mean[rn.clone()],
                &self.ln2_rstd[rn.clone()],
            );
            // self.dresid holds d(resid2). Attention branch: resid2 = resid + attn(ln1)·Wap + bap.
            matmul::backward_input(&mut self.datty, &self.dresid, p.attproj_w, c, c, false);
            matmul::backward_weight(
                g.attproj_w,
                Some(g.attproj_b),
                &self.dresid,
                &self.atty[rc.clone()],
                c,
                c,
            );
            let (qkv, att) = (&self.qkv[rc3], &self.att[l * att_len..(l + 1) * att_len]);
            attention::backward_impl(
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
                self.attention_lookahead,
            );
            matmul::backward_input(&mut self.dln, &self.dqkv, p.qkv_w, c, 3 * c, false);
            matmul::backward_weight(
                g.qkv_w,
                Some(g.qkv_b),
                &self.dqkv,
                &self.ln1[rc.clone()],
                c,
                3 * c,
            );
            layernorm::backward(
                &mut self.dresid,
                g.ln1_w,
                g.ln1_b,
                &self.dln,
                resid,
                p.ln1_w,
                &self.ln1_mean[rn.clone()],
                &self.ln1_rstd[rn],
            );
            // self.dresid now holds d(resid), the gradient entering block l.
        }
        let (dwte, dwpe, _) = off.embeddings_and_lnf_mut(grads);
        embedding::backward(dwte, dwpe, &self.dresid, inputs, t, c);
    }
}
