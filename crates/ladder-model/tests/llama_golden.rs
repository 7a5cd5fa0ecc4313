//! Golden test against Hugging Face `LlamaForCausalLM` (fixture and provenance:
//! `tests/fixtures/README.md`, produced by `scripts/make_llama_golden_fixture.py`): loss, logits
//! and every gradient of one batch, with no PyTorch at test time.

use ladder_model::kernels::testing::{assert_close, rel_l2};
use ladder_model::{Arch, ModelConfig, NormKind, ParamLayout, Workspace};
use safetensors::{Dtype, SafeTensors};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/golden_llama_tiny.safetensors"
);

/// The fixture's model: 2 layers, hidden 32, 2 heads, intermediate 48, 16 positions, vocab 67
/// (pads to 128), rms_norm_eps 1e-5, rope_theta 500, untied head.
fn cfg() -> ModelConfig {
    ModelConfig {
        n_layer: 2,
        n_embd: 32,
        n_head: 2,
        block_size: 16,
        vocab_size: 67,
        arch: Arch::Llama,
        norm: NormKind::RmsNorm,
        ffn_width: Some(48),
        rope_theta: Some(500.0),
        norm_eps: Some(1e-5),
        tie_embeddings: Some(false),
    }
}

fn f32s(st: &SafeTensors<'_>, name: &str) -> (Vec<usize>, Vec<f32>) {
    let t = st
        .tensor(name)
        .unwrap_or_else(|_| panic!("fixture has no tensor {name}"));
    assert_eq!(t.dtype(), Dtype::F32, "{name}");
    let v = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (t.shape().to_vec(), v)
}

#[test]
fn llama_golden_loss_logits_and_gradients_match_transformers() {
    let bytes = std::fs::read(FIXTURE).unwrap_or_else(|e| {
        panic!("{FIXTURE}: {e}; regenerate with `python3 scripts/make_llama_golden_fixture.py`")
    });
    let st = SafeTensors::deserialize(&bytes).expect("fixture is valid safetensors");
    let cfg = cfg();
    let layout = ParamLayout::new(&cfg);
    // Every ladder tensor is an HF tensor of the same name and shape, and vice versa.
    let mut params = vec![0.0; layout.len];
    for spec in &layout.tensors {
        let (shape, v) = f32s(&st, &spec.name);
        assert_eq!(shape, spec.shape, "{}", spec.name);
        params[spec.range()].copy_from_slice(&v);
    }
    let hf_params = st
        .names()
        .iter()
        .filter(|n| !n.starts_with("grad.") && !["tokens", "loss", "logits"].contains(n))
        .count();
    assert_eq!(hf_params, layout.tensors.len());

    let t = st.tensor("tokens").expect("tokens");
    assert_eq!(t.dtype(), Dtype::I64);
    let (b, t1) = (t.shape()[0], t.shape()[1]);
    let toks: Vec<u32> = t
        .data()
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u32)
        .collect();
    let (mut inp, mut tgt) = (Vec::new(), Vec::new());
    for row in toks.chunks(t1) {
        inp.extend_from_slice(&row[..t1 - 1]);
        tgt.extend_from_slice(&row[1..]);
    }
    let t = t1 - 1;
    let mut ws = Workspace::new(&cfg, b, t).unwrap();
    let mut grads = vec![0.0; layout.len];
    let loss = ws
        .forward_backward(&params, &mut grads, &inp, &tgt, 1.0)
        .unwrap();
    let want_loss = f32s(&st, "loss").1[0];
    assert!(
        ((loss - want_loss) / want_loss).abs() < 1e-5,
        "loss {loss} vs HF {want_loss}"
    );
    let (shape, want_logits) = f32s(&st, "logits");
    assert_eq!(shape, vec![b, t, cfg.vocab_size]);
    let widen = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    assert_close("logits", &ws.logits(), &widen(&want_logits), 1e-4, 0.0);
    for spec in &layout.tensors {
        let (_, want) = f32s(&st, &format!("grad.{}", spec.name));
        let err = rel_l2(&grads[spec.range()], &widen(&want));
        eprintln!("grad {}: relative L2 error {err:.2e}", spec.name);
        assert!(
            err <= 1e-4,
            "grad {}: relative L2 error {err:e} > 1e-4",
            spec.name
        );
    }
}
