//! Incremental decoding with a key/value cache (for `ladder sample`): one token at a time
//! through the same block code as [`crate::Workspace`]'s forward pass ([`crate::block`]), with
//! attention over the cached keys and values in place of the full causal attention.

use crate::backend::{Backend, Cpu};
use crate::block::{self, BlockActs, Rope};
use crate::error::{Error, Result};
use crate::kernels::{rope, simd};
use crate::params::ParamLayout;
use crate::spec::{ArchSpec, Family, Role};
use crate::ModelConfig;

/// Keys and values of every layer for the positions fed so far, plus scratch for one token.
pub struct KvCache<B: Backend = Cpu> {
    be: B,
    cfg: ModelConfig,
    layout: ParamLayout,
    cap: usize,
    len: usize,
    family: Family,
    rope_cos: Vec<f32>, // (cap, HS/2) rotary tables (Llama; empty for GPT-2)
    rope_sin: Vec<f32>,
    k: Vec<f32>,      // (L, cap, C)
    v: Vec<f32>,      // (L, cap, C)
    x: B::Buf,        // (C) residual stream
    x_in: B::Buf,     // (C) residual stream entering the current block
    ln1: B::Buf,      // (C)
    ln2: B::Buf,      // (C)
    qkv: B::Buf,      // (3C)
    y: B::Buf,        // (C) attention output
    resid2: B::Buf,   // (C)
    fc: B::Buf,       // (F); Llama: (2F) gate | up
    fc_act: B::Buf,   // (F)
    scores: Vec<f32>, // (cap)
    logits: B::Buf,   // (Vp)
    stat: [f32; 4],   // LayerNorm means and rstds (unused here, the kernel stores them)
}

impl KvCache<Cpu> {
    /// A cache for up to `min(max_len, block_size)` positions (the model holds no more) of
    /// `cfg`'s family.
    pub fn new(cfg: &ModelConfig, max_len: usize) -> Self {
        Self::build(Cpu, &cfg.spec(), cfg, max_len)
    }
}

impl<B: Backend> KvCache<B> {
    /// A cache for any spec and backend.
    pub fn build(be: B, spec: &ArchSpec, cfg: &ModelConfig, max_len: usize) -> Self {
        Self::with_layout(be, ParamLayout::from_spec(spec, cfg.n_layer), cfg, max_len)
    }

    /// A cache reading parameters laid out as `layout` (built from a spec for `cfg`).
    pub(crate) fn with_layout(
        be: B,
        layout: ParamLayout,
        cfg: &ModelConfig,
        max_len: usize,
    ) -> Self {
        let cap = max_len.min(cfg.block_size);
        let (l, c, f) = (cfg.n_layer, cfg.n_embd, cfg.ffn_width());
        let family = layout.family();
        let (rope_cos, rope_sin, fw) = match family {
            Family::Llama => {
                let (cos, sin) = rope::table(cfg.rope_theta(), c / cfg.n_head, cap);
                (cos, sin, 2 * f)
            }
            Family::Gpt2 => (Vec::new(), Vec::new(), f),
        };
        KvCache {
            cfg: cfg.clone(),
            layout,
            cap,
            len: 0,
            family,
            rope_cos,
            rope_sin,
            k: vec![0.0; l * cap * c],
            v: vec![0.0; l * cap * c],
            x: be.alloc(c),
            x_in: be.alloc(c),
            ln1: be.alloc(c),
            ln2: be.alloc(c),
            qkv: be.alloc(3 * c),
            y: be.alloc(c),
            resid2: be.alloc(c),
            fc: be.alloc(fw),
            fc_act: be.alloc(f),
            scores: vec![0.0; cap],
            logits: be.alloc(cfg.padded_vocab_size()),
            stat: [0.0; 4],
            be,
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
        if params.len() != self.layout.len {
            return Err(Error::Length {
                what: "params",
                expected: self.layout.len,
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
        let f = self.cfg.ffn_width();
        let hs = c / nh;
        let scale = 1.0 / (hs as f32).sqrt();
        let views = self.layout.views();
        let be = &self.be;
        let llama = self.family == Family::Llama;
        let wte = views.global(params, Role::TokenEmbedding);
        let tok = token as usize;
        if llama {
            self.x.copy_from_slice(&wte[tok * c..(tok + 1) * c]);
        } else {
            let wpe = views.global(params, Role::PositionEmbedding);
            for ((x, &a), &b) in self
                .x
                .iter_mut()
                .zip(&wte[tok * c..(tok + 1) * c])
                .zip(&wpe[pos * c..(pos + 1) * c])
            {
                *x = a + b;
            }
        }
        let eps = self.cfg.norm_eps();
        let rope = Rope {
            cos: &self.rope_cos,
            sin: &self.rope_sin,
            t: 1,
            nh,
            pos0: pos,
        };
        let [m1, r1, m2, r2] = &mut self.stat;
        for l in 0..self.cfg.n_layer {
            let p = views.block(params, l);
            self.x_in.copy_from_slice(&self.x);
            let kl = &mut self.k[l * cap * c..(l + 1) * cap * c];
            let vl = &mut self.v[l * cap * c..(l + 1) * cap * c];
            let scores = &mut self.scores;
            // Attention of the newest position over the cached ones (itself included).
            let attend = |y: &mut [f32], qkv: &[f32]| {
                kl[pos * c..(pos + 1) * c].copy_from_slice(&qkv[c..2 * c]);
                vl[pos * c..(pos + 1) * c].copy_from_slice(&qkv[2 * c..]);
                for h in 0..nh {
                    let q = &qkv[h * hs..(h + 1) * hs];
                    let sc = &mut scores[..=pos];
                    for (s, krow) in sc.iter_mut().zip(kl.chunks_exact(c)) {
                        *s = simd::dot(q, &krow[h * hs..(h + 1) * hs]) * scale;
                    }
                    let mx = sc.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                    let mut z = 0.0f32;
                    for s in sc.iter_mut() {
                        *s = (*s - mx).exp();
                        z += *s;
                    }
                    let y = &mut y[h * hs..(h + 1) * hs];
                    y.fill(0.0);
                    for (&s, vrow) in sc.iter().zip(vl.chunks_exact(c)) {
                        for (o, &vv) in y.iter_mut().zip(&vrow[h * hs..(h + 1) * hs]) {
                            *o += s / z * vv;
                        }
                    }
                }
            };
            let acts = BlockActs {
                ln1: &mut self.ln1,
                ln1_mean: std::slice::from_mut(m1),
                ln1_rstd: std::slice::from_mut(r1),
                qkv: &mut self.qkv,
                atty: &mut self.y,
                resid2: &mut self.resid2,
                ln2: &mut self.ln2,
                ln2_mean: std::slice::from_mut(m2),
                ln2_rstd: std::slice::from_mut(r2),
                fch: &mut self.fc,
                fch_gelu: &mut self.fc_act,
            };
            if llama {
                let (x_in, x) = (&self.x_in, &mut self.x);
                block::forward_llama(be, &p, acts, x_in, x, c, f, eps, &rope, attend);
            } else {
                block::forward(be, &p, acts, &self.x_in, &mut self.x, c, f, attend);
            }
        }
        let head = if llama {
            be.rmsnorm_forward(
                &mut self.ln1,
                std::slice::from_mut(r1),
                &self.x,
                views.global(params, Role::FinalNormWeight),
                eps,
            );
            if self.layout.has(Role::LmHead) {
                views.global(params, Role::LmHead)
            } else {
                wte
            }
        } else {
            be.layernorm_forward(
                &mut self.ln1,
                std::slice::from_mut(m1),
                std::slice::from_mut(r1),
                &self.x,
                views.global(params, Role::FinalNormWeight),
                views.global(params, Role::FinalNormBias),
            );
            wte
        };
        let vp = self.cfg.padded_vocab_size();
        be.matmul_nt_forward(&mut self.logits, &self.ln1, head, c, vp);
        be.sync();
        self.len += 1;
        Ok(&self.logits[..v])
    }
}
