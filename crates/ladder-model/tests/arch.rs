//! A second architecture from a spec alone: GPT-2 without the four linear biases of each block
//! (nanoGPT's `bias=False` for the projections). No model code is written for it: the spec
//! below is the whole architecture. It trains through the [`Model`] trait, its gradients match
//! finite differences, and KV-cache decoding matches its full forward pass.

use ladder_model::kernels::reference::model_forward;
use ladder_model::kernels::testing::{assert_close, rand_vec, rel_l2};
use ladder_model::{
    AdamW, ArchSpec, Init, Model, ModelConfig, ParamLayout, Place, Role, TensorDef, Workspace,
};

/// The toy family: GPT-2's tensors minus the linear biases, same names, shapes and init.
fn gpt2_no_bias(cfg: &ModelConfig) -> ArchSpec {
    use Place::{Block, Embedding, Final};
    use Role::*;
    let (c, f) = (cfg.n_embd, cfg.ffn_width());
    let w = Init::Normal { std: 0.02 };
    let proj = Init::Normal {
        std: 0.02 / (2.0 * cfg.n_layer as f64).sqrt(),
    };
    let t = TensorDef::new;
    ArchSpec {
        name: "gpt2-nobias",
        embeddings: vec![
            TensorDef {
                mem: cfg.padded_vocab_size() * c,
                ..t(
                    TokenEmbedding,
                    Embedding,
                    "transformer.wte.weight",
                    vec![cfg.vocab_size, c],
                    w,
                )
            },
            t(
                PositionEmbedding,
                Embedding,
                "transformer.wpe.weight",
                vec![cfg.block_size, c],
                w,
            ),
        ],
        block: vec![
            t(Norm1Weight, Block, "ln_1.weight", vec![c], Init::Ones),
            t(Norm1Bias, Block, "ln_1.bias", vec![c], Init::Zeros),
            t(QkvWeight, Block, "attn.c_attn.weight", vec![c, 3 * c], w),
            t(
                AttnProjWeight,
                Block,
                "attn.c_proj.weight",
                vec![c, c],
                proj,
            ),
            t(Norm2Weight, Block, "ln_2.weight", vec![c], Init::Ones),
            t(Norm2Bias, Block, "ln_2.bias", vec![c], Init::Zeros),
            t(FcWeight, Block, "mlp.c_fc.weight", vec![c, f], w),
            t(FcProjWeight, Block, "mlp.c_proj.weight", vec![f, c], proj),
        ],
        finals: vec![
            t(
                FinalNormWeight,
                Final,
                "transformer.ln_f.weight",
                vec![c],
                Init::Ones,
            ),
            t(
                FinalNormBias,
                Final,
                "transformer.ln_f.bias",
                vec![c],
                Init::Zeros,
            ),
        ],
        hf_architecture: "GPT2LMHeadModel",
        hf_model_type: "gpt2",
    }
}

fn cfg() -> ModelConfig {
    ModelConfig {
        n_layer: 2,
        n_embd: 16,
        n_head: 2,
        block_size: 8,
        vocab_size: 37,
        ..ModelConfig::default()
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

/// One optimizer step through the trait only.
fn train_step<M: Model>(
    m: &mut M,
    opt: &mut AdamW,
    p: &mut [f32],
    inp: &[u32],
    tgt: &[u32],
) -> f32 {
    let mut g = vec![0.0; m.layout().len];
    let loss = m.forward_backward(p, &mut g, inp, tgt, 1.0).unwrap();
    let layout = m.layout().clone();
    opt.step(&layout, p, &g, 1e-2, 0.0);
    loss
}

#[test]
fn spec_only_architecture_trains_and_has_exact_gradients() {
    let cfg = cfg();
    let spec = gpt2_no_bias(&cfg);
    spec.validate().unwrap();
    let (b, t) = (2, 8);
    let mut ws = Workspace::from_spec(&spec, &cfg, b, t).unwrap();
    let layout = ws.layout().clone();
    assert!(layout
        .tensors
        .iter()
        .all(|t| !t.name.ends_with("proj.bias")));
    assert!(layout.get("transformer.h.1.mlp.c_fc.bias").is_none());
    let c = 16u64;
    let gpt2 = ParamLayout::new(&cfg);
    let dropped = 2 * (3 * c + c + 4 * c + c);
    assert_eq!(
        spec.n_params_non_embedding(2),
        cfg.n_params_non_embedding() - dropped
    );
    assert_eq!(gpt2.len - layout.len, dropped as usize);

    // Gradients against central differences of the f64 GPT-2 reference with zero biases, which
    // is the same function.
    let params = rough(&layout);
    let (inp, tgt) = (tokens(b * t, 1), tokens(b * t, 2));
    let mut grads = vec![0.0; layout.len];
    let loss = ws
        .forward_backward(&params, &mut grads, &inp, &tgt, 1.0)
        .unwrap();
    let mut p64 = vec![0.0f64; gpt2.len];
    let mut at = Vec::new(); // (toy tensor, its range in the GPT-2 buffer)
    for tt in &layout.tensors {
        let g = gpt2.get(&tt.name).unwrap();
        let mem = |l: &ParamLayout, s: &ladder_model::TensorSpec| {
            let next = l.tensors.iter().find(|x| x.offset > s.offset);
            s.offset..next.map_or(l.len, |x| x.offset)
        };
        for (d, &s) in p64[mem(&gpt2, g)].iter_mut().zip(&params[mem(&layout, tt)]) {
            *d = s as f64;
        }
        at.push((tt, g.range()));
    }
    let (want_loss, _) = model_forward(&cfg, &p64, &inp, &tgt, t);
    assert!(
        (loss as f64 - want_loss).abs() < 2e-5 * want_loss,
        "{loss} vs {want_loss}"
    );
    let h = 1e-5;
    for (tt, r) in at {
        let want: Vec<f64> = r
            .map(|i| {
                let x0 = p64[i];
                p64[i] = x0 + h;
                let fp = model_forward(&cfg, &p64, &inp, &tgt, t).0;
                p64[i] = x0 - h;
                let fm = model_forward(&cfg, &p64, &inp, &tgt, t).0;
                p64[i] = x0;
                (fp - fm) / (2.0 * h)
            })
            .collect();
        let got = &grads[tt.range()];
        let err = rel_l2(got, &want);
        assert!(err < 1e-4, "{}: relative L2 error {err:e}", tt.name);
    }

    // One training step from the spec's own init lowers the loss on that batch.
    let mut p = layout.init(0);
    assert_eq!(p.len(), layout.len);
    let mut opt = AdamW::new(&layout);
    let before = train_step(&mut ws, &mut opt, &mut p, &inp, &tgt);
    let after = ws.forward_loss(&p, &inp, &tgt).unwrap();
    assert!(after < before, "loss {before} -> {after}");

    // Decoding through the trait matches the full forward pass.
    let mut one = Workspace::from_spec(&spec, &cfg, 1, t).unwrap();
    one.forward_loss(&p, &inp[..t], &tgt[..t]).unwrap();
    let full = one.logits();
    let mut cache = one.new_cache(t);
    for (pos, &tok) in inp[..t].iter().enumerate() {
        let got = one.decode(&mut cache, &p, tok).unwrap().to_vec();
        let want: Vec<f64> = full[pos * 37..(pos + 1) * 37]
            .iter()
            .map(|&x| x as f64)
            .collect();
        assert_close(&format!("kv pos {pos}"), &got, &want, 1e-5, 1e-5);
    }
}
