//! Whole-model tests: gradient check against f64 finite differences, determinism, KV-cache
//! decoding, and overfitting one batch.

use ladder_model::kernels::reference::model_forward;
use ladder_model::kernels::testing::{assert_close, rand_vec, rel_l2};
use ladder_model::{init_params, AdamW, Error, KvCache, ModelConfig, ParamLayout, Workspace};

/// L=2, C=16, NH=2, T=8, V=37: V pads to 64, so the padding path is exercised.
fn tiny() -> ModelConfig {
    ModelConfig {
        n_layer: 2,
        n_embd: 16,
        n_head: 2,
        block_size: 8,
        vocab_size: 37,
        ..ModelConfig::default()
    }
}

fn tokens(n: usize, v: usize, seed: u64) -> Vec<u32> {
    rand_vec(n, seed, 1.0)
        .iter()
        .map(|&x| (((x + 1.0) * 0.5 * v as f32) as usize).min(v - 1) as u32)
        .collect()
}

/// Parameters far from init (O(0.3) weights, LN weights around 1) so that every path, in
/// particular attention, has gradients of similar size.
fn rough_params(cfg: &ModelConfig) -> Vec<f32> {
    let layout = ParamLayout::new(cfg);
    let mut p = init_params(cfg, 1);
    for (i, t) in layout.tensors.iter().enumerate() {
        let r = rand_vec(t.numel(), 100 + i as u64, 0.3);
        let dst = &mut p[t.range()];
        let ln_weight = t.name.contains("ln_") && t.name.ends_with("weight");
        for (d, x) in dst.iter_mut().zip(r) {
            *d = if ln_weight { 1.0 + x } else { x };
        }
    }
    p
}

fn pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .unwrap()
}

#[test]
fn model_gradients_match_finite_differences() {
    let cfg = tiny();
    let (b, t) = (2, 8);
    let layout = ParamLayout::new(&cfg);
    let params = rough_params(&cfg);
    let (inp, tgt) = (tokens(b * t, 37, 1), tokens(b * t, 37, 2));
    let mut ws = Workspace::new(&cfg, b, t).unwrap();
    let mut grads = vec![0.0; layout.len];
    let loss = ws
        .forward_backward(&params, &mut grads, &inp, &tgt, 1.0)
        .unwrap();

    let p64: Vec<f64> = params.iter().map(|&x| x as f64).collect();
    let (want_loss, want_logits) = model_forward(&cfg, &p64, &inp, &tgt, t);
    // Loss: f32 forward vs f64 reference, O(1) value after ~10 roundings per layer.
    assert!(
        (loss as f64 - want_loss).abs() < 2e-5 * want_loss,
        "loss {loss} vs {want_loss}"
    );
    let vp = cfg.padded_vocab_size();
    let want_logits: Vec<f64> = want_logits
        .chunks(vp)
        .flat_map(|r| r[..37].to_vec())
        .collect();
    assert_close("logits", &ws.logits(), &want_logits, 1e-4, 1e-4);

    // Central differences of the f64 reference with h = 1e-5: truncation ~h²·f''' ≈ 1e-10 and
    // rounding ~1e-16/h ≈ 1e-11, so the FD values are exact for our purpose; what remains is
    // the f32 error of the analytic gradient (~1e-6 relative to the largest terms summed).
    let mut pp = p64.clone();
    let h = 1e-5;
    for spec in &layout.tensors {
        let want: Vec<f64> = spec
            .range()
            .map(|i| {
                let x0 = pp[i];
                pp[i] = x0 + h;
                let fp = model_forward(&cfg, &pp, &inp, &tgt, t).0;
                pp[i] = x0 - h;
                let fm = model_forward(&cfg, &pp, &inp, &tgt, t).0;
                pp[i] = x0;
                (fp - fm) / (2.0 * h)
            })
            .collect();
        let got = &grads[spec.range()];
        let err = rel_l2(got, &want);
        assert!(err < 1e-4, "{}: relative L2 error {err:e}", spec.name);
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert_close(&spec.name, got, &want, 1e-4 * scale + 1e-7, 1e-3);
    }
    // Padded wte rows: no gradient.
    let wte = layout.get("transformer.wte.weight").unwrap();
    assert!(grads[wte.numel()..layout.tensors[1].offset]
        .iter()
        .all(|&g| g == 0.0));
}

#[test]
fn forward_backward_adds_scaled_gradients() {
    let cfg = tiny();
    let layout = ParamLayout::new(&cfg);
    let params = rough_params(&cfg);
    let (inp, tgt) = (tokens(16, 37, 1), tokens(16, 37, 2));
    let mut ws = Workspace::new(&cfg, 2, 8).unwrap();
    let mut g1 = vec![0.0; layout.len];
    ws.forward_backward(&params, &mut g1, &inp, &tgt, 1.0)
        .unwrap();
    // Two half-scaled calls add up to one full call.
    let mut g2 = vec![0.0; layout.len];
    ws.forward_backward(&params, &mut g2, &inp, &tgt, 0.5)
        .unwrap();
    ws.forward_backward(&params, &mut g2, &inp, &tgt, 0.5)
        .unwrap();
    let want: Vec<f64> = g1.iter().map(|&x| x as f64).collect();
    assert_close("grads", &g2, &want, 1e-7, 1e-5);
    let l1 = ws.forward_loss(&params, &inp, &tgt).unwrap();
    let l2 = ws
        .forward_backward(&params, &mut g2, &inp, &tgt, 1.0)
        .unwrap();
    assert_eq!(l1.to_bits(), l2.to_bits());
}

#[test]
fn forward_backward_is_bitwise_deterministic_for_fixed_threads() {
    // Shapes big enough to take every parallel path (T = 64 spans several attention tiles).
    let cfg = ModelConfig {
        n_layer: 2,
        n_embd: 64,
        n_head: 4,
        block_size: 64,
        vocab_size: 300,
        ..ModelConfig::default()
    };
    let layout = ParamLayout::new(&cfg);
    let params = init_params(&cfg, 3);
    let (b, t) = (4, 64);
    let (inp, tgt) = (tokens(b * t, 300, 5), tokens(b * t, 300, 6));
    let run = |threads: usize| {
        pool(threads).install(|| {
            let mut ws = Workspace::new(&cfg, b, t).unwrap();
            let mut g = vec![0.0; layout.len];
            let l = ws
                .forward_backward(&params, &mut g, &inp, &tgt, 1.0)
                .unwrap();
            (l, g)
        })
    };
    let (la, ga) = run(2);
    let (lb, gb) = run(2);
    assert_eq!(la.to_bits(), lb.to_bits());
    assert!(
        ga.iter().zip(&gb).all(|(x, y)| x.to_bits() == y.to_bits()),
        "2-thread runs differ"
    );
    // Other thread counts agree to rounding.
    let (l1, g1) = run(1);
    let (l3, g3) = run(3);
    let want: Vec<f64> = ga.iter().map(|&x| x as f64).collect();
    assert!((l1 - la).abs() < 1e-5 && (l3 - la).abs() < 1e-5);
    assert!(rel_l2(&g1, &want) < 1e-5 && rel_l2(&g3, &want) < 1e-5);
}

#[test]
fn kv_cache_logits_match_full_forward() {
    let cfg = tiny();
    let params = rough_params(&cfg);
    let t = 8;
    let inp = tokens(t, 37, 7);
    let mut ws = Workspace::new(&cfg, 1, t).unwrap();
    ws.forward_loss(&params, &inp, &inp).unwrap();
    let full = ws.logits();
    let mut kv = KvCache::new(&cfg, 100);
    assert_eq!(kv.capacity(), 8);
    for (pos, &tok) in inp.iter().enumerate() {
        let got = kv.next_logits(&params, tok).unwrap().to_vec();
        let want: Vec<f64> = full[pos * 37..(pos + 1) * 37]
            .iter()
            .map(|&x| x as f64)
            .collect();
        // Same maths, different summation order: f32 rounding only.
        assert_close(&format!("kv logits pos {pos}"), &got, &want, 1e-5, 1e-5);
        assert_eq!(kv.len(), pos + 1);
    }
    assert!(matches!(
        kv.next_logits(&params, 0),
        Err(Error::CacheFull { capacity: 8 })
    ));
}

#[test]
fn workspace_rejects_bad_inputs() {
    let cfg = tiny();
    assert!(matches!(
        Workspace::new(&cfg, 1, 9),
        Err(Error::SeqLen { .. })
    ));
    assert!(matches!(Workspace::new(&cfg, 0, 8), Err(Error::ZeroBatch)));
    let mut ws = Workspace::new(&cfg, 1, 8).unwrap();
    let params = init_params(&cfg, 0);
    let ok = vec![1u32; 8];
    let mut bad = ok.clone();
    bad[3] = 37;
    assert!(matches!(
        ws.forward_loss(&params, &ok, &bad),
        Err(Error::TokenOutOfRange {
            what: "targets",
            index: 3,
            token: 37,
            ..
        })
    ));
    assert!(matches!(
        ws.forward_loss(&params, &ok[..7], &ok),
        Err(Error::Length { what: "inputs", .. })
    ));
    assert!(matches!(
        ws.forward_loss(&params[1..], &ok, &ok),
        Err(Error::Length { what: "params", .. })
    ));
    let mut g = vec![0.0; 3];
    assert!(matches!(
        ws.forward_backward(&params, &mut g, &ok, &ok, 1.0),
        Err(Error::Length { what: "grads", .. })
    ));
    assert!(ws.logits().is_empty());
    let mut kv = KvCache::new(&cfg, 4);
    assert!(matches!(
        kv.next_logits(&params, 99),
        Err(Error::TokenOutOfRange { .. })
    ));
}

#[test]
fn training_overfits_one_batch() {
    let cfg = ModelConfig {
        n_layer: 2,
        n_embd: 32,
        n_head: 2,
        block_size: 16,
        vocab_size: 37,
        ..ModelConfig::default()
    };
    let layout = ParamLayout::new(&cfg);
    let mut params = init_params(&cfg, 0);
    let (b, t) = (4, 16);
    let data = tokens(b * (t + 1), 37, 11);
    let mut inp = Vec::new();
    let mut tgt = Vec::new();
    for row in data.chunks(t + 1) {
        inp.extend_from_slice(&row[..t]);
        tgt.extend_from_slice(&row[1..]);
    }
    let mut ws = Workspace::new(&cfg, b, t).unwrap();
    let mut opt = AdamW::new(&layout);
    let mut grads = vec![0.0; layout.len];
    let mut loss = f32::NAN;
    let first = ws.forward_loss(&params, &inp, &tgt).unwrap();
    assert!(
        (first - 37f32.ln()).abs() < 0.1,
        "initial loss {first} should be ~ln(37)"
    );
    for _ in 0..300 {
        grads.fill(0.0);
        loss = ws
            .forward_backward(&params, &mut grads, &inp, &tgt, 1.0)
            .unwrap();
        ladder_model::clip_grad_norm(&mut grads, 1.0);
        opt.step(&layout, &mut params, &grads, 3e-3, 0.0);
    }
    assert!(loss < 0.05, "loss after 300 steps: {loss}");
}
