//! Naive f64 reference implementations: clearly correct loops, never on a hot path. The kernel
//! tests compare against these and take finite differences through them.
//!
//! Shapes as in the fast kernels (row-major): tokens (B·T), x (B·T, C), Conv1D weight (IC, OC),
//! qkv (B·T, 3C) laid out q | k | v with head h at channels h·HS..(h+1)·HS.

use crate::ModelConfig;

/// out[b,t,:] = wte[inp[b,t],:] + wpe[t,:].
pub fn embedding_forward(
    inp: &[u32],
    wte: &[f64],
    wpe: &[f64],
    t_len: usize,
    c: usize,
) -> Vec<f64> {
    let mut out = vec![0.0; inp.len() * c];
    for (n, &tok) in inp.iter().enumerate() {
        let t = n % t_len;
        for i in 0..c {
            out[n * c + i] = wte[tok as usize * c + i] + wpe[t * c + i];
        }
    }
    out
}

/// torch.nn.LayerNorm(C, eps = 1e-5) over the last dimension.
pub fn layernorm_forward(x: &[f64], w: &[f64], b: &[f64], c: usize) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for (row, out) in x.chunks(c).zip(y.chunks_mut(c)) {
        let mean = row.iter().sum::<f64>() / c as f64;
        let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / c as f64;
        let rstd = 1.0 / (var + 1e-5).sqrt();
        for i in 0..c {
            out[i] = (row[i] - mean) * rstd * w[i] + b[i];
        }
    }
    y
}

/// out = inp · w + bias with w (IC, OC) (Hugging Face Conv1D).
pub fn matmul_forward(
    inp: &[f64],
    w: &[f64],
    bias: Option<&[f64]>,
    ic: usize,
    oc: usize,
) -> Vec<f64> {
    let n = inp.len() / ic;
    let mut out = vec![0.0; n * oc];
    for r in 0..n {
        for o in 0..oc {
            let mut s = bias.map_or(0.0, |b| b[o]);
            for i in 0..ic {
                s += inp[r * ic + i] * w[i * oc + o];
            }
            out[r * oc + o] = s;
        }
    }
    out
}

/// Causal multi-head self-attention on packed qkv (B·T, 3C) → y (B·T, C), scale 1/sqrt(HS).
pub fn attention_forward(qkv: &[f64], b_sz: usize, t_len: usize, c: usize, nh: usize) -> Vec<f64> {
    attention_forward_lookahead(qkv, b_sz, t_len, c, nh, 0)
}

/// As [`attention_forward`], but position t attends to keys `0..=t + lookahead` (a broken mask).
pub fn attention_forward_lookahead(
    qkv: &[f64],
    b_sz: usize,
    t_len: usize,
    c: usize,
    nh: usize,
    lookahead: usize,
) -> Vec<f64> {
    let hs = c / nh;
    let scale = 1.0 / (hs as f64).sqrt();
    let mut y = vec![0.0; b_sz * t_len * c];
    let at = |b: usize, t: usize, part: usize, h: usize, i: usize| {
        qkv[(b * t_len + t) * 3 * c + part * c + h * hs + i]
    };
    for b in 0..b_sz {
        for h in 0..nh {
            for t in 0..t_len {
                let last = (t + lookahead).min(t_len - 1);
                let scores: Vec<f64> = (0..=last)
                    .map(|s| {
                        (0..hs)
                            .map(|i| at(b, t, 0, h, i) * at(b, s, 1, h, i))
                            .sum::<f64>()
                            * scale
                    })
                    .collect();
                let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
                let z: f64 = e.iter().sum();
                for i in 0..hs {
                    y[(b * t_len + t) * c + h * hs + i] =
                        (0..=last).map(|s| e[s] / z * at(b, s, 2, h, i)).sum();
                }
            }
        }
    }
    y
}

/// GELU, tanh approximation (torch `gelu(approximate="tanh")`, HF `gelu_new`).
pub fn gelu_forward(x: &[f64]) -> Vec<f64> {
    let s = (2.0 / std::f64::consts::PI).sqrt();
    x.iter()
        .map(|&v| 0.5 * v * (1.0 + (s * (v + 0.044715 * v * v * v)).tanh()))
        .collect()
}

/// out = a + b.
pub fn residual_forward(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

/// Per-row cross-entropy of softmax over the first `v` of `vp` columns of `logits` (N, Vp).
pub fn crossentropy_forward(logits: &[f64], targets: &[u32], v: usize, vp: usize) -> Vec<f64> {
    logits
        .chunks(vp)
        .zip(targets)
        .map(|(row, &y)| {
            let row = &row[..v];
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + row.iter().map(|l| (l - m).exp()).sum::<f64>().ln();
            lse - row[y as usize]
        })
        .collect()
}

/// The whole model in f64 (DESIGN §2): returns (mean cross-entropy, logits (B·T, Vp)).
/// `params` uses the crate's flat layout ([`crate::ParamLayout`], padded `wte`).
pub fn model_forward(
    cfg: &ModelConfig,
    params: &[f64],
    inputs: &[u32],
    targets: &[u32],
    t_len: usize,
) -> (f64, Vec<f64>) {
    let c = cfg.n_embd;
    let vp = cfg.padded_vocab_size();
    let layout = crate::ParamLayout::new(cfg);
    let p = |name: &str| {
        let s = layout
            .get(name)
            .unwrap_or_else(|| panic!("no tensor {name}"));
        &params[s.range()]
    };
    let wte = &params[..vp * c];
    let b_sz = inputs.len() / t_len;
    let mut x = embedding_forward(inputs, wte, p("transformer.wpe.weight"), t_len, c);
    for l in 0..cfg.n_layer {
        let q = |n: &str| p(&format!("transformer.h.{l}.{n}"));
        let h = layernorm_forward(&x, q("ln_1.weight"), q("ln_1.bias"), c);
        let qkv = matmul_forward(
            &h,
            q("attn.c_attn.weight"),
            Some(q("attn.c_attn.bias")),
            c,
            3 * c,
        );
        let y = attention_forward(&qkv, b_sz, t_len, c, cfg.n_head);
        let a = matmul_forward(
            &y,
            q("attn.c_proj.weight"),
            Some(q("attn.c_proj.bias")),
            c,
            c,
        );
        x = residual_forward(&x, &a);
        let h = layernorm_forward(&x, q("ln_2.weight"), q("ln_2.bias"), c);
        let f = matmul_forward(&h, q("mlp.c_fc.weight"), Some(q("mlp.c_fc.bias")), c, 4 * c);
        let g = gelu_forward(&f);
        let m = matmul_forward(
            &g,
            q("mlp.c_proj.weight"),
            Some(q("mlp.c_proj.bias")),
            4 * c,
            c,
        );
        x = residual_forward(&x, &m);
    }
    let h = layernorm_forward(
        &x,
        p("transformer.ln_f.weight"),
        p("transformer.ln_f.bias"),
        c,
    );
    // Tied head: logits = h · wteᵀ, i.e. a matmul with weight wteᵀ (C, Vp).
    let mut wte_t = vec![0.0; c * vp];
    for v in 0..vp {
        for i in 0..c {
            wte_t[i * vp + v] = wte[v * c + i];
        }
    }
    let logits = matmul_forward(&h, &wte_t, None, c, vp);
    let losses = crossentropy_forward(&logits, targets, cfg.vocab_size, vp);
    (losses.iter().sum::<f64>() / losses.len() as f64, logits)
}

/// HF `LlamaRMSNorm` over the last dimension: w · x / √(mean(x²) + eps).
pub fn rmsnorm_forward(x: &[f64], w: &[f64], eps: f64, c: usize) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for (row, out) in x.chunks(c).zip(y.chunks_mut(c)) {
        let ms = row.iter().map(|v| v * v).sum::<f64>() / c as f64;
        let rstd = 1.0 / (ms + eps).sqrt();
        for i in 0..c {
            out[i] = w[i] * row[i] * rstd;
        }
    }
    y
}

/// Rotary embeddings (HF `apply_rotary_pos_emb`, `rotate_half` convention) on the q and k parts
/// of packed qkv (B·T, 3C); row r at position `pos0 + r % T`; angles in f64.
pub fn rope_forward(
    qkv: &[f64],
    t_len: usize,
    c: usize,
    nh: usize,
    theta: f64,
    pos0: usize,
) -> Vec<f64> {
    let hs = c / nh;
    let half = hs / 2;
    let mut out = qkv.to_vec();
    for (r, row) in out.chunks_mut(3 * c).enumerate() {
        let pos = (pos0 + r % t_len) as f64;
        for head in row[..2 * c].chunks_mut(hs) {
            let orig = head.to_vec();
            for j in 0..half {
                let a = pos * theta.powf(-((2 * j) as f64) / hs as f64);
                let (cs, sn) = (a.cos(), a.sin());
                head[j] = orig[j] * cs - orig[j + half] * sn;
                head[j + half] = orig[j + half] * cs + orig[j] * sn;
            }
        }
    }
    out
}

/// SwiGLU on rows of (gate | up), each F wide: silu(gate) · up, (N, F).
pub fn swiglu_forward(gu: &[f64], f: usize) -> Vec<f64> {
    gu.chunks(2 * f)
        .flat_map(|row| {
            let (g, u) = row.split_at(f);
            g.iter()
                .zip(u)
                .map(|(&g, &u)| g / (1.0 + (-g).exp()) * u)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `nn.Linear` without bias: out = inp · wᵀ with w (OC, IC).
pub fn linear_forward(inp: &[f64], w: &[f64], ic: usize, oc: usize) -> Vec<f64> {
    let n = inp.len() / ic;
    let mut out = vec![0.0; n * oc];
    for r in 0..n {
        for o in 0..oc {
            out[r * oc + o] = (0..ic).map(|i| inp[r * ic + i] * w[o * ic + i]).sum();
        }
    }
    out
}

/// Hugging Face `LlamaForCausalLM` in f64: returns (mean cross-entropy, logits (B·T, Vp)).
/// `params` uses the crate's flat layout for `cfg` (an `arch = llama` config).
pub fn llama_forward(
    cfg: &ModelConfig,
    params: &[f64],
    inputs: &[u32],
    targets: &[u32],
    t_len: usize,
) -> (f64, Vec<f64>) {
    let (c, f) = (cfg.n_embd, cfg.ffn_width());
    let vp = cfg.padded_vocab_size();
    let eps = cfg.norm_eps() as f64;
    let layout = crate::ParamLayout::new(cfg);
    let p = |name: &str| {
        let s = layout
            .get(name)
            .unwrap_or_else(|| panic!("no tensor {name}"));
        &params[s.offset..s.offset + s.numel()]
    };
    let emb = layout.get("model.embed_tokens.weight").expect("embedding");
    let wte = &params[emb.offset..emb.offset + vp * c];
    let mut x: Vec<f64> = inputs
        .iter()
        .flat_map(|&t| wte[t as usize * c..(t as usize + 1) * c].to_vec())
        .collect();
    let b_sz = inputs.len() / t_len;
    for l in 0..cfg.n_layer {
        let q = |n: &str| p(&format!("model.layers.{l}.{n}"));
        let h = rmsnorm_forward(&x, q("input_layernorm.weight"), eps, c);
        let mut wqkv = q("self_attn.q_proj.weight").to_vec();
        wqkv.extend_from_slice(q("self_attn.k_proj.weight"));
        wqkv.extend_from_slice(q("self_attn.v_proj.weight"));
        let qkv = linear_forward(&h, &wqkv, c, 3 * c);
        let qkv = rope_forward(&qkv, t_len, c, cfg.n_head, cfg.rope_theta(), 0);
        let y = attention_forward(&qkv, b_sz, t_len, c, cfg.n_head);
        let a = linear_forward(&y, q("self_attn.o_proj.weight"), c, c);
        x = residual_forward(&x, &a);
        let h = rmsnorm_forward(&x, q("post_attention_layernorm.weight"), eps, c);
        let mut wgu = q("mlp.gate_proj.weight").to_vec();
        wgu.extend_from_slice(q("mlp.up_proj.weight"));
        let gu = linear_forward(&h, &wgu, c, 2 * f);
        let m = linear_forward(&swiglu_forward(&gu, f), q("mlp.down_proj.weight"), f, c);
        x = residual_forward(&x, &m);
    }
    let h = rmsnorm_forward(&x, p("model.norm.weight"), eps, c);
    let head = match layout.get("lm_head.weight") {
        Some(s) => &params[s.offset..s.offset + vp * c],
        None => wte,
    };
    let logits = linear_forward(&h, head, c, vp);
    let losses = crossentropy_forward(&logits, targets, cfg.vocab_size, vp);
    (losses.iter().sum::<f64>() / losses.len() as f64, logits)
}
