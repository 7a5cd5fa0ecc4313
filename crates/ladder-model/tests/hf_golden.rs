//! Golden test against Hugging Face `GPT2LMHeadModel` (fixture and provenance:
//! `tests/fixtures/README.md`, produced by `scripts/make_golden_fixture.py`).

use ladder_model::kernels::testing::{assert_close, rel_l2};
use ladder_model::{AdamW, ModelConfig, ParamLayout, Workspace};
use safetensors::{Dtype, SafeTensors};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/golden_tiny.safetensors"
);

/// The fixture's model: n_layer 2, n_embd 32, n_head 2, n_positions 16, vocab 67 (pads to 128).
fn cfg() -> ModelConfig {
    ModelConfig {
        n_layer: 2,
        n_embd: 32,
        n_head: 2,
        block_size: 16,
        vocab_size: 67,
        ..ModelConfig::default()
    }
}

struct Fixture {
    bytes: Vec<u8>,
}

impl Fixture {
    fn load() -> Self {
        let bytes = std::fs::read(FIXTURE).unwrap_or_else(|e| {
            panic!("{FIXTURE}: {e}; regenerate with `python3 scripts/make_golden_fixture.py`")
        });
        Fixture { bytes }
    }

    fn st(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("fixture is valid safetensors")
    }

    fn f32(&self, name: &str) -> (Vec<usize>, Vec<f32>) {
        let st = self.st();
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

    fn tokens(&self) -> (Vec<usize>, Vec<u32>) {
        let st = self.st();
        let t = st.tensor("tokens").expect("tokens");
        assert_eq!(t.dtype(), Dtype::I64);
        let v = t
            .data()
            .chunks_exact(8)
            .map(|b| {
                u32::try_from(i64::from_le_bytes(b.try_into().unwrap())).expect("token id fits u32")
            })
            .collect();
        (t.shape().to_vec(), v)
    }

    /// Every parameter mapped into the flat layout by its Hugging Face name.
    fn params(&self, layout: &ParamLayout, prefix: &str) -> Vec<f32> {
        let mut p = vec![0.0; layout.len];
        for spec in &layout.tensors {
            let (shape, v) = self.f32(&format!("{prefix}{}", spec.name));
            assert_eq!(shape, spec.shape, "{}", spec.name);
            p[spec.range()].copy_from_slice(&v);
        }
        p
    }
}

fn batch(f: &Fixture) -> (usize, usize, Vec<u32>, Vec<u32>) {
    let (shape, toks) = f.tokens();
    let (b, t1) = (shape[0], shape[1]);
    let mut inp = Vec::new();
    let mut tgt = Vec::new();
    for row in toks.chunks(t1) {
        inp.extend_from_slice(&row[..t1 - 1]);
        tgt.extend_from_slice(&row[1..]);
    }
    (b, t1 - 1, inp, tgt)
}

fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

#[test]
fn hf_golden_loss_logits_and_gradients_match() {
    let f = Fixture::load();
    let cfg = cfg();
    let layout = ParamLayout::new(&cfg);
    let params = f.params(&layout, "");
    let (b, t, inp, tgt) = batch(&f);
    let mut ws = Workspace::new(&cfg, b, t).unwrap();
    let mut grads = vec![0.0; layout.len];
    let loss = ws
        .forward_backward(&params, &mut grads, &inp, &tgt, 1.0)
        .unwrap();

    let want_loss = f.f32("loss").1[0];
    assert!(
        ((loss - want_loss) / want_loss).abs() < 1e-5,
        "loss {loss} vs HF {want_loss}"
    );
    let (shape, want_logits) = f.f32("logits");
    assert_eq!(shape, vec![b, t, cfg.vocab_size]);
    // Both are f32 computations of O(1) logits with different summation orders: ~1e-6 apart.
    assert_close("logits", &ws.logits(), &widen(&want_logits), 1e-4, 0.0);

    for spec in &layout.tensors {
        let (_, want) = f.f32(&format!("grad.{}", spec.name));
        let err = rel_l2(&grads[spec.range()], &widen(&want));
        eprintln!("grad {}: relative L2 error {err:.2e}", spec.name);
        assert!(
            err <= 1e-4,
            "grad {}: relative L2 error {err:e} > 1e-4",
            spec.name
        );
    }
    let wte = layout.get("transformer.wte.weight").unwrap();
    assert!(
        grads[wte.numel()..layout.tensors[1].offset]
            .iter()
            .all(|&g| g == 0.0),
        "padded rows"
    );
}

#[test]
fn hf_golden_adamw_steps_match_torch() {
    let f = Fixture::load();
    let cfg = cfg();
    let layout = ParamLayout::new(&cfg);
    let mut params = f.params(&layout, "");
    let (b, t, inp, tgt) = batch(&f);
    let mut ws = Workspace::new(&cfg, b, t).unwrap();
    let mut opt = AdamW::new(&layout);
    let mut grads = vec![0.0; layout.len];
    let (_, want_losses) = f.f32("adamw.loss");
    for (step, &want) in want_losses.iter().enumerate() {
        grads.fill(0.0);
        let loss = ws
            .forward_backward(&params, &mut grads, &inp, &tgt, 1.0)
            .unwrap();
        assert!(
            ((loss - want) / want).abs() < 1e-5,
            "step {step}: loss {loss} vs torch {want}"
        );
        // torch.optim.AdamW(lr 1e-3, betas (0.9, 0.95), eps 1e-8, wd 0.1 on dim >= 2 tensors).
        opt.step(&layout, &mut params, &grads, 1e-3, 0.1);
    }
    let st = f.st();
    let names: Vec<String> = st
        .names()
        .iter()
        .filter_map(|n| n.strip_prefix("adamw.final.").map(String::from))
        .collect();
    assert!(names.len() >= 4, "fixture lists final AdamW parameters");
    for name in names {
        let spec = layout
            .get(&name)
            .unwrap_or_else(|| panic!("unknown tensor {name}"));
        let (_, want) = f.f32(&format!("adamw.final.{name}"));
        // Each step moves a parameter by ≲ lr = 1e-3; gradient differences of ~1e-6 relative
        // change m/√v by far less, so parameters agree to ~1e-7 absolute.
        assert_close(
            &format!("adamw.final.{name}"),
            &params[spec.range()],
            &widen(&want),
            2e-6,
            1e-5,
        );
    }
}
