//! The Llama family (`arch = "llama"`): its spec, exact gradients against finite differences of
//! the f64 reference (`kernels::reference::llama_forward`), tied and untied heads, KV-cache
//! decoding against the full forward pass, and a training step through the `Model` trait.
//! Agreement with Hugging Face itself is `tests/llama_golden.rs`.

use ladder_model::kernels::reference::llama_forward;
use ladder_model::kernels::testing::{assert_close, rand_vec, rel_l2};
use ladder_model::{
    AdamW, Arch, ArchSpec, Init, Model, ModelConfig, NormKind, ParamLayout, Role, Workspace,
};

fn cfg(tie: bool) -> ModelConfig {
    ModelConfig {
        n_layer: 2,
        n_embd: 16,
        n_head: 2,
        block_size: 8,
        vocab_size: 37,
        arch: Arch::Llama,
        norm: NormKind::RmsNorm,
        ffn_width: Some(24),
        rope_theta: Some(100.0), // a small base: every pair rotates noticeably over 8 positions
        norm_eps: Some(1e-5),
        tie_embeddings: Some(tie),
    }
}

fn tokens(n: usize, seed: u64) -> Vec<u32> {
    rand_vec(n, seed, 1.0)
        .iter()
        .map(|&x| (((x + 1.0) * 0.5 * 37.0) as usize).min(36) as u32)
        .collect()
}

/// Rough parameters (O(0.3), norm weights near 1) so every path has gradients of similar size.
fn rough(layout: &ParamLayout) -> Vec<f32> {
    let mut p = vec![0.0f32; layout.len];
    for (i, t) in layout.tensors.iter().enumerate() {
        let one = matches!(t.init, Init::Ones);
        for (d, x) in p[t.range()]
            .iter_mut()
            .zip(rand_vec(t.numel(), 50 + i as u64, 0.3))
        {
            *d = if one { 1.0 + x } else { x };
        }
    }
    p
}

#[test]
fn llama_spec_names_shapes_counts_and_defaults() {
    let c = cfg(true);
    c.validate().unwrap();
    let spec = ArchSpec::of(&c);
    spec.validate().unwrap();
    let l = ParamLayout::new(&c);
    let names: Vec<&str> = l.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names[0], "model.embed_tokens.weight");
    assert_eq!(
        names[1..10],
        [
            "model.layers.0.input_layernorm.weight",
            "model.layers.0.self_attn.q_proj.weight",
            "model.layers.0.self_attn.k_proj.weight",
            "model.layers.0.self_attn.v_proj.weight",
            "model.layers.0.self_attn.o_proj.weight",
            "model.layers.0.post_attention_layernorm.weight",
            "model.layers.0.mlp.gate_proj.weight",
            "model.layers.0.mlp.up_proj.weight",
            "model.layers.0.mlp.down_proj.weight",
        ]
    );
    assert_eq!(*names.last().unwrap(), "model.norm.weight");
    assert_eq!(
        l.get("model.layers.1.mlp.down_proj.weight").unwrap().shape,
        vec![16, 24]
    );
    assert_eq!(
        l.get("model.layers.1.mlp.gate_proj.weight").unwrap().shape,
        vec![24, 16]
    );
    let groups: Vec<&str> = l.tensors.iter().map(|t| t.group.as_str()).collect();
    assert_eq!(groups[..2], ["embed_tokens", "h.0"]);
    assert_eq!(*groups.last().unwrap(), "norm");
    // N: per block 2C (norms) + 4C² (attention) + 3CF (SwiGLU), plus the final norm.
    let per_block = 2 * 16 + 4 * 16 * 16 + 3 * 16 * 24;
    assert_eq!(c.n_params_non_embedding(), 2 * per_block + 16);
    assert_eq!(c.n_params_total(), 2 * per_block + 16 + 37 * 16);
    // Untied: lm_head after the embedding, outside N, counted once in the total.
    let u = cfg(false);
    let lu = ParamLayout::new(&u);
    assert_eq!(lu.tensors[1].name, "lm_head.weight");
    assert_eq!(lu.tensors[1].group, "lm_head");
    assert_eq!(u.n_params_non_embedding(), c.n_params_non_embedding());
    assert_eq!(u.n_params_total(), c.n_params_total() + 37 * 16);
    // Defaults: F = ⅔·4·C rounded up to a multiple of 16; eps 1e-5; θ 10000; tied.
    let d = ModelConfig {
        arch: Arch::Llama,
        norm: NormKind::RmsNorm,
        ..ModelConfig::default()
    };
    assert_eq!(d.ffn_width(), 688);
    assert_eq!(
        (d.norm_eps(), d.rope_theta(), d.tie_embeddings()),
        (1e-5, 1e4, true)
    );
    let m = ModelConfig {
        n_embd: 64,
        ..d.clone()
    };
    assert_eq!(m.ffn_width(), 176);
    // HF init: every matrix N(0, 0.02), norms one.
    let spec = ArchSpec::llama(&d);
    for t in spec
        .embeddings
        .iter()
        .chain(&spec.block)
        .chain(&spec.finals)
    {
        let want = if t.shape.len() == 2 {
            Init::Normal { std: 0.02 }
        } else {
            Init::Ones
        };
        assert_eq!(t.init, want, "{}", t.name);
    }
    // FLOPs: 6·(N + V·C) + 12·L·T·C, the GPT-2 convention.
    let f = d.train_flops_per_token(256);
    let n = d.n_params_non_embedding() as f64;
    assert_eq!(f, 6.0 * (n + 8192.0 * 256.0) + 12.0 * 4.0 * 256.0 * 256.0);
}

#[test]
fn llama_config_rejects_bad_values() {
    let bad = |f: &dyn Fn(&mut ModelConfig), want: &str| {
        let mut c = cfg(true);
        f(&mut c);
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    };
    bad(&|c| c.ffn_width = Some(0), "ffn_width must be > 0");
    bad(&|c| c.norm_eps = Some(0.0), "norm_eps = 0");
    bad(&|c| c.norm_eps = Some(-1e-5), "norm_eps = -0.00001");
    bad(&|c| c.rope_theta = Some(0.0), "rope_theta = 0");
    bad(&|c| c.rope_theta = Some(f64::NAN), "rope_theta = NaN");
    bad(
        &|c| {
            c.n_embd = 18;
            c.n_head = 6;
        },
        "must be even",
    );
    bad(
        &|c| c.norm = NormKind::LayerNorm,
        "does not support norm LayerNorm",
    );
    // GPT-2 refuses the Llama-only keys.
    let g = ModelConfig {
        tie_embeddings: Some(false),
        ..ModelConfig::default()
    };
    assert!(g
        .validate()
        .unwrap_err()
        .to_string()
        .contains("tie_embeddings = false"));
    let g = ModelConfig {
        norm_eps: Some(1e-6),
        ..ModelConfig::default()
    };
    assert!(g.validate().unwrap_err().to_string().contains("norm_eps"));
}

fn check_gradients(tie: bool) {
    let cfg = cfg(tie);
    let (b, t) = (2, 8);
    let mut ws = Workspace::new(&cfg, b, t).unwrap();
    let layout = ws.layout().clone();
    let params = rough(&layout);
    let (inp, tgt) = (tokens(b * t, 1), tokens(b * t, 2));
    let mut grads = vec![0.0; layout.len];
    let loss = ws
        .forward_backward(&params, &mut grads, &inp, &tgt, 1.0)
        .unwrap();
    let mut p64: Vec<f64> = params.iter().map(|&x| x as f64).collect();
    let (want_loss, want_logits) = llama_forward(&cfg, &p64, &inp, &tgt, t);
    assert!(
        (loss as f64 - want_loss).abs() < 2e-5 * want_loss,
        "{loss} vs {want_loss}"
    );
    let v = cfg.vocab_size;
    let vp = cfg.padded_vocab_size();
    let want_logits: Vec<f64> = want_logits
        .chunks(vp)
        .flat_map(|r| r[..v].to_vec())
        .collect();
    assert_close("logits", &ws.logits(), &want_logits, 1e-4, 1e-4);
    let h = 1e-5;
    for tt in &layout.tensors {
        let want: Vec<f64> = tt
            .range()
            .map(|i| {
                let x0 = p64[i];
                p64[i] = x0 + h;
                let fp = llama_forward(&cfg, &p64, &inp, &tgt, t).0;
                p64[i] = x0 - h;
                let fm = llama_forward(&cfg, &p64, &inp, &tgt, t).0;
                p64[i] = x0;
                (fp - fm) / (2.0 * h)
            })
            .collect();
        let err = rel_l2(&grads[tt.range()], &want);
        assert!(err < 1e-4, "{}: relative L2 error {err:e}", tt.name);
    }
    // Padded embedding (and head) rows get no gradient.
    let emb = layout.get("model.embed_tokens.weight").unwrap();
    let pad = emb.offset + emb.numel()..emb.offset + vp * cfg.n_embd;
    assert!(grads[pad].iter().all(|&g| g == 0.0));
}

#[test]
fn llama_gradients_match_finite_differences_tied() {
    check_gradients(true);
}

#[test]
fn llama_gradients_match_finite_differences_untied() {
    check_gradients(false);
}

#[test]
fn llama_kv_cache_logits_match_full_forward() {
    for tie in [true, false] {
        let cfg = cfg(tie);
        let t = 8;
        let mut ws = Workspace::new(&cfg, 1, t).unwrap();
        let params = rough(ws.layout());
        let inp = tokens(t, 3);
        ws.forward_loss(&params, &inp, &inp).unwrap();
        let full = ws.logits();
        let mut cache = ws.new_cache(t);
        let v = cfg.vocab_size;
        for (pos, &tok) in inp.iter().enumerate() {
            let got = ws.decode(&mut cache, &params, tok).unwrap().to_vec();
            let want: Vec<f64> = full[pos * v..(pos + 1) * v]
                .iter()
                .map(|&x| x as f64)
                .collect();
            assert_close(&format!("decode pos {pos}"), &got, &want, 1e-5, 1e-5);
        }
    }
}

#[test]
fn llama_trains_from_its_init_through_the_model_trait() {
    let cfg = cfg(false);
    let (b, t) = (2, 8);
    let mut ws = Workspace::new(&cfg, b, t).unwrap();
    let layout = ws.layout().clone();
    assert!(layout.has(Role::LmHead) && !layout.has(Role::PositionEmbedding));
    let mut p = layout.init(0);
    let (inp, tgt) = (tokens(b * t, 1), tokens(b * t, 2));
    let mut opt = AdamW::new(&layout);
    let mut first = None;
    let mut last = 0.0;
    for _ in 0..20 {
        let mut g = vec![0.0; layout.len];
        last = Model::forward_backward(&mut ws, &p, &mut g, &inp, &tgt, 1.0).unwrap();
        first.get_or_insert(last);
        opt.step(&layout, &mut p, &g, 1e-2, 0.0);
    }
    let first = first.unwrap();
    assert!((first - (37f32).ln()).abs() < 0.1, "init loss {first}");
    assert!(last < first - 0.5, "loss {first} -> {last}");
}
