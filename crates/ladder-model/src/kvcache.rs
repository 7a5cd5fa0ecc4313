//! Incremental decoding with a key/value cache (for `ladder sample`): one token at a time, the
//! same maths as [`crate::Workspace`]'s forward pass restricted to the newest position.

use crate::error::{Error, Result};
use crate::kernels::{gelu, layernorm, matmul, simd};
use crate::params::Offsets;
use crate::ModelConfig;

/// Keys and values of every layer for the positions fed so far, plus scratch for one token.
pub struct KvCache {
    cfg: ModelConfig,
    off: Offsets,
    cap: usize,
    len: usize,
    k: Vec<f32>,      // (L, cap, C)
    v: Vec<f32>,      // (L, cap, C)
    x: Vec<f32>,      // (C) residual stream
    ln: Vec<f32>,     // (C)
    qkv: Vec<f32>,    // (3C)
    y: Vec<f32>,      // (C) attention output
    tmp: Vec<f32>,    // (C)
    fc: Vec<f32>,     // (4C)
    fc_act: Vec<f32>, // (4C)
    scores: Vec<f32>, // (cap)
    logits: Vec<f32>, // (Vp)
    stat: [f32; 2],   // LayerNorm mean, rstd (unused here, the kernel stores them)
}

impl KvCache {
    /// A cache for up to `min(max_len, block_size)` positions (the model holds no more).
    pub fn new(cfg: &ModelConfig, max_len: usize) -> Self {
        let cap = max_len.min(cfg.block_size);
        let (l, c) = (cfg.n_layer, cfg.n_embd);
        KvCache {
            cfg: cfg.clone(),
            off: Offsets::new(cfg),
            cap,
            len: 0,
            k: vec![0.0; l * cap * c],
            v: vec![0.0; l * cap * c],
            x: vec![0.0; c],
            ln: vec![0.0; c],
            qkv: vec![0.0; 3 * c],
            y: vec![0.0; c],
            tmp: vec![0.0; c],
            fc: vec![0.0; 4 * c],
            fc_act: vec![0.0; 4 * c],
            scores: vec![0.0; cap],
            logits: vec![0.0; cfg.padded_vocab_size()],
            stat: [0.0; 2],
        }
    }

    /// Positions fed so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no position has been fed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Positions the cache can hold.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Feeds one token at the next position and returns the logits over the real vocabulary
    /// for the token after it.
    pub fn next_logits(&mut self, params: &[f32], token: u32) -> Result<&[f32]> {
        if params.len() != self.off.len {
            return Err(Error::Length {
                what: "params",
                expected: self.off.len,
                got: params.len(),
            });
        }
        let v = self.cfg.vocab_size;
        if token as usize >= v {
            return Err(Error::TokenOutOfRange {
                what: "token",
                index: self.len,
                token,
                vocab_size: v,
            });
        }
        if self.len >= self.cap {
            return Err(Error::CacheFull { capacity: self.cap });
        }
        let (c, nh, cap, pos) = (self.cfg.n_embd, self.cfg.n_head, self.cap, self.len);
        let hs = c / nh;
        let scale = 1.0 / (hs as f32).sqrt();
        let off = self.off;
        let (wte, wpe) = (off.wte(params), off.wpe(params));
        let tok = token as usize;
        for ((x, &a), &b) in self
            .x
            .iter_mut()
            .zip(&wte[tok * c..(tok + 1) * c])
            .zip(&wpe[pos * c..(pos + 1) * c])
        {
            *x = a + b;
        }
        let (m, r) = self.stat.split_at_mut(1);
        for l in 0..self.cfg.n_layer {
            let p = off.block(params, l);
            layernorm::forward(&mut self.ln, m, r, &self.x, p.ln1_w, p.ln1_b);
            matmul::forward(&mut self.qkv, &self.ln, p.qkv_w, Some(p.qkv_b), c, 3 * c);
            let kl = &mut self.k[l * cap * c..(l + 1) * cap * c];
            let vl = &mut self.v[l * cap * c..(l + 1) * cap * c];
            kl[pos * c..(pos + 1) * c].copy_from_slice(&self.qkv[c..2 * c]);
            vl[pos * c..(pos + 1) * c].copy_from_slice(&self.qkv[2 * c..]);
            for h in 0..nh {
                let q = &self.qkv[h * hs..(h + 1) * hs];
                let sc = &mut self.scores[..=pos];
                for (s, krow) in sc.iter_mut().zip(kl.chunks_exact(c)) {
                    *s = simd::dot(q, &krow[h * hs..(h + 1) * hs]) * scale;
                }
                let mx = sc.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                let mut z = 0.0f32;
                for s in sc.iter_mut() {
                    *s = (*s - mx).exp();
                    z += *s;
                }
                let y = &mut self.y[h * hs..(h + 1) * hs];
                y.fill(0.0);
                for (&s, vrow) in sc.iter().zip(vl.chunks_exact(c)) {
                    for (o, &vv) in y.iter_mut().zip(&vrow[h * hs..(h + 1) * hs]) {
                        *o += s / z * vv;
                    }
                }
            }
            self.tmp.copy_from_slice(&self.x);
            matmul::forward_residual(
                &mut self.x,
                &self.tmp,
                &self.y,
                p.attproj_w,
                p.attproj_b,
                c,
                c,
            );
            layernorm::forward(&mut self.ln, m, r, &self.x, p.ln2_w, p.ln2_b);
            matmul::forward(&mut self.fc, &self.ln, p.fc_w, Some(p.fc_b), c, 4 * c);
            gelu::forward(&mut self.fc_act, &self.fc);
            self.tmp.copy_from_slice(&self.x);
            matmul::forward_residual(
                &mut self.x,
                &self.tmp,
                &self.fc_act,
                p.fcproj_w,
                p.fcproj_b,
                4 * c,
                c,
            );
        }
        let (w, b) = off.lnf(params);
        layernorm::forward(&mut self.ln, m, r, &self.x, w, b);
        let vp = self.cfg.padded_vocab_size();
        matmul::forward_nt(&mut self.logits, &self.ln, wte, c, vp);
        self.len += 1;
        Ok(&self.logits[..v])
    }
}
