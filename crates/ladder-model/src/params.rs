//! The flat parameter layout (DESIGN §1): one contiguous `f32` buffer, layer-major, with Hugging
//! Face `GPT2LMHeadModel` names and layouts. The same layout indexes parameters, gradients, AdamW
//! moments and checkpoint bytes.
//!
//! Order: `wte, wpe, h.0.{ln_1.w, ln_1.b, c_attn.w, c_attn.b, attn.c_proj.w, attn.c_proj.b,
//! ln_2.w, ln_2.b, c_fc.w, c_fc.b, mlp.c_proj.w, mlp.c_proj.b}, h.1..., ln_f.w, ln_f.b`
//! (HF's `named_parameters()` order). Conv1D weights are `[in, out]` row-major.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::config::ModelConfig;

/// One named tensor inside the flat buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    /// Hugging Face name, e.g. `transformer.h.0.attn.c_attn.weight`.
    pub name: String,
    /// Shape as Hugging Face stores it (`wte` is `[vocab_size, C]` with the real vocabulary).
    pub shape: Vec<usize>,
    /// First element in the flat buffer.
    pub offset: usize,
    /// Whether AdamW applies weight decay: tensors with 2 or more dimensions (nanoGPT policy),
    /// i.e. `wte`, `wpe` and the four matmul weights of each block; not biases or LayerNorm.
    pub decay: bool,
}

impl TensorSpec {
    /// Number of elements of `shape` (for `wte`: real rows only).
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// `offset..offset + numel()`: the tensor's elements in the flat buffer.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.numel()
    }
}

/// Where each named tensor lives in one flat `[f32]` (see the module doc for the order).
///
/// `wte` occupies `padded_vocab_size · C` elements in memory although its spec says
/// `[vocab_size, C]`: the rows past `vocab_size` are zero and stay zero (they get no gradient and
/// AdamW leaves zero moments at zero), so `params[spec.range()]` is exactly the Hugging Face tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamLayout {
    /// Every tensor, in buffer order.
    pub tensors: Vec<TensorSpec>,
    /// Length of the flat buffer (includes the padded `wte` rows).
    pub len: usize,
}

/// Names of one block's tensors after `transformer.h.{l}.`, in buffer order.
pub(crate) const BLOCK_TENSORS: [&str; 12] = [
    "ln_1.weight",
    "ln_1.bias",
    "attn.c_attn.weight",
    "attn.c_attn.bias",
    "attn.c_proj.weight",
    "attn.c_proj.bias",
    "ln_2.weight",
    "ln_2.bias",
    "mlp.c_fc.weight",
    "mlp.c_fc.bias",
    "mlp.c_proj.weight",
    "mlp.c_proj.bias",
];

/// Shapes of one block's tensors, in the order of [`BLOCK_TENSORS`].
pub(crate) fn block_shapes(c: usize) -> [Vec<usize>; 12] {
    [
        vec![c],
        vec![c],
        vec![c, 3 * c],
        vec![3 * c],
        vec![c, c],
        vec![c],
        vec![c],
        vec![c],
        vec![c, 4 * c],
        vec![4 * c],
        vec![4 * c, c],
        vec![c],
    ]
}

/// Elements of one block: 12·C² + 13·C.
pub(crate) fn block_len(c: usize) -> usize {
    12 * c * c + 13 * c
}

impl ParamLayout {
    /// Builds the layout; the only place tensor sizes are written down.
    pub fn new(cfg: &ModelConfig) -> Self {
        let c = cfg.n_embd;
        let mut tensors = Vec::with_capacity(2 + 12 * cfg.n_layer + 2);
        let mut offset = 0;
        let mut push = |name: String, shape: Vec<usize>, mem: usize| {
            let decay = shape.len() >= 2;
            tensors.push(TensorSpec {
                name,
                shape,
                offset,
                decay,
            });
            offset += mem;
        };
        push(
            "transformer.wte.weight".into(),
            vec![cfg.vocab_size, c],
            cfg.padded_vocab_size() * c,
        );
        push(
            "transformer.wpe.weight".into(),
            vec![cfg.block_size, c],
            cfg.block_size * c,
        );
        for l in 0..cfg.n_layer {
            for (name, shape) in BLOCK_TENSORS.iter().zip(block_shapes(c)) {
                let n = shape.iter().product();
                push(format!("transformer.h.{l}.{name}"), shape, n);
            }
        }
        push("transformer.ln_f.weight".into(), vec![c], c);
        push("transformer.ln_f.bias".into(), vec![c], c);
        ParamLayout {
            tensors,
            len: offset,
        }
    }

    /// The tensor called `name` (Hugging Face naming), if any.
    pub fn get(&self, name: &str) -> Option<&TensorSpec> {
        self.tensors.iter().find(|t| t.name == name)
    }
}

/// Named views into one block of a flat buffer (parameters or gradients), `S` = `&[f32]` or
/// `&mut [f32]`. Field order and shapes follow [`BLOCK_TENSORS`].
pub(crate) struct Block<S> {
    pub ln1_w: S,
    pub ln1_b: S,
    pub qkv_w: S,
    pub qkv_b: S,
    pub attproj_w: S,
    pub attproj_b: S,
    pub ln2_w: S,
    pub ln2_b: S,
    pub fc_w: S,
    pub fc_b: S,
    pub fcproj_w: S,
    pub fcproj_b: S,
}

/// Offsets of the pieces of the flat buffer that are not blocks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Offsets {
    pub c: usize,
    pub wte_len: usize,
    pub wpe: usize,
    pub wpe_len: usize,
    pub blocks: usize,
    pub lnf: usize,
    pub len: usize,
}

impl Offsets {
    pub fn new(cfg: &ModelConfig) -> Self {
        let c = cfg.n_embd;
        let wte_len = cfg.padded_vocab_size() * c;
        let wpe_len = cfg.block_size * c;
        let blocks = wte_len + wpe_len;
        let lnf = blocks + cfg.n_layer * block_len(c);
        Offsets {
            c,
            wte_len,
            wpe: wte_len,
            wpe_len,
            blocks,
            lnf,
            len: lnf + 2 * c,
        }
    }

    fn block_range(&self, l: usize) -> std::ops::Range<usize> {
        let n = block_len(self.c);
        self.blocks + l * n..self.blocks + (l + 1) * n
    }

    fn sizes(&self) -> [usize; 12] {
        let c = self.c;
        [
            c,
            c,
            3 * c * c,
            3 * c,
            c * c,
            c,
            c,
            c,
            4 * c * c,
            4 * c,
            4 * c * c,
            c,
        ]
    }

    pub fn block<'a>(&self, buf: &'a [f32], l: usize) -> Block<&'a [f32]> {
        let mut rest = &buf[self.block_range(l)];
        let mut out: [&[f32]; 12] = [&[]; 12];
        for (o, n) in out.iter_mut().zip(self.sizes()) {
            let (a, b) = rest.split_at(n);
            *o = a;
            rest = b;
        }
        let [ln1_w, ln1_b, qkv_w, qkv_b, attproj_w, attproj_b, ln2_w, ln2_b, fc_w, fc_b, fcproj_w, fcproj_b] =
            out;
        Block {
            ln1_w,
            ln1_b,
            qkv_w,
            qkv_b,
            attproj_w,
            attproj_b,
            ln2_w,
            ln2_b,
            fc_w,
            fc_b,
            fcproj_w,
            fcproj_b,
        }
    }

    pub fn block_mut<'a>(&self, buf: &'a mut [f32], l: usize) -> Block<&'a mut [f32]> {
        let mut rest = &mut buf[self.block_range(l)];
        let mut out: [&mut [f32]; 12] = Default::default();
        for (o, n) in out.iter_mut().zip(self.sizes()) {
            let (a, b) = std::mem::take(&mut rest).split_at_mut(n);
            *o = a;
            rest = b;
        }
        let [ln1_w, ln1_b, qkv_w, qkv_b, attproj_w, attproj_b, ln2_w, ln2_b, fc_w, fc_b, fcproj_w, fcproj_b] =
            out;
        Block {
            ln1_w,
            ln1_b,
            qkv_w,
            qkv_b,
            attproj_w,
            attproj_b,
            ln2_w,
            ln2_b,
            fc_w,
            fc_b,
            fcproj_w,
            fcproj_b,
        }
    }

    /// `wte` (padded rows included).
    pub fn wte<'a>(&self, buf: &'a [f32]) -> &'a [f32] {
        &buf[..self.wte_len]
    }

    pub fn wpe<'a>(&self, buf: &'a [f32]) -> &'a [f32] {
        &buf[self.wpe..self.wpe + self.wpe_len]
    }

    /// (`ln_f.weight`, `ln_f.bias`).
    pub fn lnf<'a>(&self, buf: &'a [f32]) -> (&'a [f32], &'a [f32]) {
        buf[self.lnf..self.lnf + 2 * self.c].split_at(self.c)
    }

    /// Mutable (`wte`, `wpe`, (`ln_f.weight`, `ln_f.bias`)).
    #[allow(clippy::type_complexity)]
    pub fn embeddings_and_lnf_mut<'a>(
        &self,
        buf: &'a mut [f32],
    ) -> (&'a mut [f32], &'a mut [f32], (&'a mut [f32], &'a mut [f32])) {
        let (head, tail) = buf.split_at_mut(self.blocks);
        let (wte, wpe) = head.split_at_mut(self.wte_len);
        let lnf =
            tail[self.lnf - self.blocks..self.lnf - self.blocks + 2 * self.c].split_at_mut(self.c);
        (wte, wpe, lnf)
    }
}

/// DESIGN §2 initialisation, deterministic in `seed` and independent of the thread count (one
/// sequential ChaCha8 stream in layout order): N(0, 0.02) for `wte`, `wpe`, `c_attn` and `c_fc`
/// weights; N(0, 0.02/sqrt(2L)) for both `c_proj` weights (GPT-2 paper §2.3: residual branches
/// scaled by depth); zero biases; LayerNorm weights one. Padded `wte` rows are zero.
pub fn init_params(cfg: &ModelConfig, seed: u64) -> Vec<f32> {
    init(cfg, seed, None)
}

/// A testing aid for diagnosis (the planted `bad-init` bug): as [`init_params`], but every weight
/// matrix, `c_proj` included, is drawn from N(0, std²).
pub fn init_params_with_std(cfg: &ModelConfig, seed: u64, std: f64) -> Vec<f32> {
    init(cfg, seed, Some(std))
}

/// Rounds every value to the nearest bfloat16 (ties to even), kept in f32 storage. A testing aid
/// for diagnosis (the planted `bf16-weights` bug): small updates are lost in the rounding.
pub fn round_to_bf16(values: &mut [f32]) {
    values
        .par_iter_mut()
        .for_each(|v| *v = half::bf16::from_f32(*v).to_f32());
}

/// [`init_params`] with the weights' std replaced by `weight_std` when given.
fn init(cfg: &ModelConfig, seed: u64, weight_std: Option<f64>) -> Vec<f32> {
    let layout = ParamLayout::new(cfg);
    let mut params = vec![0.0f32; layout.len];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let proj_std = 0.02 / (2.0 * cfg.n_layer as f64).sqrt();
    for t in &layout.tensors {
        let dst = &mut params[t.range()];
        let name = t.name.as_str();
        if name.ends_with("ln_1.weight")
            || name.ends_with("ln_2.weight")
            || name.ends_with("ln_f.weight")
        {
            dst.fill(1.0);
        } else if name.ends_with(".bias") {
            dst.fill(0.0);
        } else {
            let std = match weight_std {
                Some(std) => std,
                None if name.ends_with("c_proj.weight") => proj_std,
                None => 0.02,
            };
            fill_normal(dst, std, &mut rng);
        }
    }
    params
}

/// Fills `dst` with N(0, std²) samples (Box–Muller on the ChaCha stream, both outputs used).
fn fill_normal(dst: &mut [f32], std: f64, rng: &mut ChaCha8Rng) {
    let mut chunks = dst.chunks_exact_mut(2);
    for pair in &mut chunks {
        let (a, b) = box_muller(rng);
        pair[0] = (a * std) as f32;
        pair[1] = (b * std) as f32;
    }
    if let [last] = chunks.into_remainder() {
        *last = (box_muller(rng).0 * std) as f32;
    }
}

fn box_muller(rng: &mut ChaCha8Rng) -> (f64, f64) {
    // u1 in (0, 1] so that ln(u1) is finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    let r = (-2.0 * u1.ln()).sqrt();
    let th = std::f64::consts::TAU * u2;
    (r * th.cos(), r * th.sin())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> ModelConfig {
        ModelConfig {
            n_layer: 2,
            n_embd: 16,
            n_head: 2,
            block_size: 8,
            vocab_size: 37,
        }
    }

    #[test]
    fn layout_is_contiguous_and_counts_match_config() {
        let cfg = tiny();
        let l = ParamLayout::new(&cfg);
        assert_eq!(l.tensors.len(), 2 + 12 * 2 + 2);
        assert_eq!(l.tensors[0].offset, 0);
        assert_eq!(l.tensors[1].offset, cfg.padded_vocab_size() * 16);
        for w in l.tensors.windows(2).skip(1) {
            assert_eq!(w[0].offset + w[0].numel(), w[1].offset, "{}", w[0].name);
        }
        let last = l.tensors.last().unwrap();
        assert_eq!(last.offset + last.numel(), l.len);
        let real: u64 = l.tensors.iter().map(|t| t.numel() as u64).sum();
        assert_eq!(real, cfg.n_params_total());
        assert_eq!(l.len, Offsets::new(&cfg).len);
        let spec = l.get("transformer.h.1.attn.c_attn.weight").unwrap();
        assert_eq!(spec.shape, vec![16, 48]);
        assert!(spec.decay);
        assert!(l.get("transformer.wpe.weight").unwrap().decay);
        assert!(!l.get("transformer.h.0.ln_1.weight").unwrap().decay);
        assert!(!l.get("transformer.h.0.mlp.c_fc.bias").unwrap().decay);
        assert!(l.get("nope").is_none());
    }

    #[test]
    fn block_views_match_layout_offsets() {
        let cfg = tiny();
        let l = ParamLayout::new(&cfg);
        let o = Offsets::new(&cfg);
        let buf: Vec<f32> = (0..l.len).map(|i| i as f32).collect();
        let b = o.block(&buf, 1);
        let spec = l.get("transformer.h.1.mlp.c_fc.bias").unwrap();
        assert_eq!(b.fc_b[0], spec.offset as f32);
        assert_eq!(b.fc_b.len(), spec.numel());
        let (w, bias) = o.lnf(&buf);
        assert_eq!(
            w[0],
            l.get("transformer.ln_f.weight").unwrap().offset as f32
        );
        assert_eq!(
            bias[0],
            l.get("transformer.ln_f.bias").unwrap().offset as f32
        );
    }

    #[test]
    fn init_params_is_deterministic_and_follows_design() {
        let cfg = tiny();
        let a = init_params(&cfg, 7);
        assert_eq!(a, init_params(&cfg, 7));
        assert_ne!(a, init_params(&cfg, 8));
        let l = ParamLayout::new(&cfg);
        let pad = &a[l.tensors[0].numel()..l.tensors[1].offset];
        assert!(pad.iter().all(|&x| x == 0.0));
        assert!(a[l.get("transformer.h.0.ln_2.weight").unwrap().range()]
            .iter()
            .all(|&x| x == 1.0));
        assert!(
            a[l.get("transformer.h.0.attn.c_attn.bias").unwrap().range()]
                .iter()
                .all(|&x| x == 0.0)
        );
        // Standard deviations within sampling error.
        let std = |name: &str| {
            let v = &a[l.get(name).unwrap().range()];
            (v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
        };
        let s = std("transformer.h.0.mlp.c_fc.weight"); // 1024 samples: rel. s.e. ~2%
        assert!((s - 0.02).abs() < 0.002, "{s}");
        let s = std("transformer.h.1.mlp.c_proj.weight");
        assert!((s - 0.01).abs() < 0.001, "{s}");
    }

    #[test]
    fn planted_bad_init_uses_the_given_std_everywhere() {
        let cfg = tiny();
        let l = ParamLayout::new(&cfg);
        let a = init_params_with_std(&cfg, 7, 1.0);
        let std = |name: &str| {
            let v = &a[l.get(name).unwrap().range()];
            (v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
        };
        for name in [
            "transformer.h.0.mlp.c_fc.weight",
            "transformer.h.1.mlp.c_proj.weight",
        ] {
            let s = std(name);
            assert!((s - 1.0).abs() < 0.1, "{name}: {s}");
        }
        // Biases and LayerNorm weights are not "weights initialised with a std".
        assert!(a[l.get("transformer.h.0.ln_2.weight").unwrap().range()]
            .iter()
            .all(|&x| x == 1.0));
    }

    #[test]
    fn round_to_bf16_rounds_to_nearest_even() {
        // bf16 keeps 8 significant bits: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 (even: 1);
        // 1 + 3·2^-9 rounds up to 1 + 2^-7; exact bf16 values and non-finite values stay.
        let mut v = vec![
            1.0 + 2f32.powi(-8),
            1.0 + 3.0 * 2f32.powi(-9),
            -2.5,
            f32::INFINITY,
            0.0,
        ];
        round_to_bf16(&mut v);
        assert_eq!(v[..3], [1.0, 1.0 + 2f32.powi(-7), -2.5]);
        assert_eq!(v[3], f32::INFINITY);
        assert_eq!(v[4], 0.0);
        // A typical AdamW update of 1e-4 on a weight of 0.02 is lost entirely.
        let mut w = vec![0.02f32 + 1e-6];
        round_to_bf16(&mut w);
        assert_eq!(w[0], half::bf16::from_f32(0.02).to_f32());
    }
}
