//! The flat parameter layout (DESIGN §1): one contiguous `f32` buffer, layer-major, with Hugging
//! Face names and layouts. The same layout indexes parameters, gradients, AdamW moments and
//! checkpoint bytes. The order, names, shapes and initialisation come from the family's
//! [`ArchSpec`] (for GPT-2: HF's `named_parameters()` order, Conv1D weights `[in, out]`).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::config::ModelConfig;
use crate::spec::{ArchSpec, Init, Role};

/// One named tensor inside the flat buffer.
#[derive(Clone, Debug, PartialEq)]
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
    /// What the model uses the tensor for.
    pub role: Role,
    /// The block holding it (`None` for embeddings and final tensors).
    pub layer: Option<usize>,
    /// Its per-layer statistics group: `wte`, `wpe`, `h.{l}`, `ln_f`.
    pub group: String,
    /// How [`init_params`] fills it.
    pub init: Init,
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
#[derive(Clone, Debug, PartialEq)]
pub struct ParamLayout {
    /// Every tensor, in buffer order.
    pub tensors: Vec<TensorSpec>,
    /// Length of the flat buffer (includes the padded `wte` rows).
    pub len: usize,
    views: Views,
}

impl ParamLayout {
    /// The layout of `cfg`'s family ([`ModelConfig::spec`]).
    pub fn new(cfg: &ModelConfig) -> Self {
        Self::from_spec(&cfg.spec(), cfg.n_layer)
    }

    /// The layout of any spec with `n_layer` blocks: the spec's tensors in order, each taking
    /// its `mem` elements.
    pub fn from_spec(spec: &ArchSpec, n_layer: usize) -> Self {
        let mut tensors = Vec::new();
        let mut offset = 0;
        let mut views = Views {
            global: [None; Role::COUNT],
            global_order: Vec::new(),
            block_order: fused_block_order(spec),
            blocks: 0,
            stride: spec.block.iter().map(|d| d.mem).sum(),
        };
        for (name, layer, def) in spec.expanded(n_layer) {
            match layer {
                None => {
                    views.global[def.role as usize] = Some((offset, def.mem));
                    views.global_order.push((def.role, offset, def.mem));
                }
                Some(0) if views.blocks == 0 => views.blocks = offset,
                Some(_) => {}
            }
            tensors.push(TensorSpec {
                group: ArchSpec::group(&name, layer),
                name,
                shape: def.shape.clone(),
                offset,
                decay: def.decay,
                role: def.role,
                layer,
                init: def.init,
            });
            offset += def.mem;
        }
        ParamLayout {
            tensors,
            len: offset,
            views,
        }
    }

    /// Initial parameters as each tensor's [`Init`] says (see [`init_params`]).
    pub fn init(&self, seed: u64) -> Vec<f32> {
        init_layout(self, seed, None)
    }

    /// The tensor called `name` (Hugging Face naming), if any.
    pub fn get(&self, name: &str) -> Option<&TensorSpec> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Whether the layout has a tensor of this role.
    pub fn has(&self, role: Role) -> bool {
        self.tensors.iter().any(|t| t.role == role)
    }

    /// The block code this layout's spec needs (see [`ArchSpec::family`]).
    pub(crate) fn family(&self) -> crate::spec::Family {
        if self.has(Role::QProj) {
            crate::spec::Family::Llama
        } else {
            crate::spec::Family::Gpt2
        }
    }

    pub(crate) fn views(&self) -> &Views {
        &self.views
    }
}

/// A block's (role, memory length) in buffer order, with each complete run of fused parts
/// (`q_proj, k_proj, v_proj`) replaced by their fused role (`QkvLinear`) covering all of them:
/// the model code reads the parts only as one matrix.
fn fused_block_order(spec: &ArchSpec) -> Vec<(Role, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < spec.block.len() {
        let d = &spec.block[i];
        if let Some((fused, parts)) = d.role.fused_into() {
            let run = &spec.block[i..(i + parts.len()).min(spec.block.len())];
            if run.iter().map(|t| t.role).eq(parts.iter().copied()) {
                out.push((fused, run.iter().map(|t| t.mem).sum()));
                i += parts.len();
                continue;
            }
        }
        out.push((d.role, d.mem));
        i += 1;
    }
    out
}

/// Role-indexed views of a flat buffer, built from the layout once: the model code asks for
/// `Role::QkvWeight` of block `l` and gets its slice, whatever the family's order or omissions.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Views {
    /// (offset, memory length) of each non-block tensor by role.
    global: [Option<(usize, usize)>; Role::COUNT],
    /// Non-block tensors in buffer order: (role, offset, memory length).
    global_order: Vec<(Role, usize, usize)>,
    /// Block tensors in buffer order: (role, memory length).
    block_order: Vec<(Role, usize)>,
    /// First element of block 0 and elements per block.
    blocks: usize,
    stride: usize,
}

/// Slices of one buffer by role (`S` = `&[f32]` or `&mut [f32]`); absent roles are `None`.
pub(crate) struct Parts<S> {
    p: [Option<S>; Role::COUNT],
}

impl<'a> Parts<&'a [f32]> {
    /// A tensor every valid spec has (see [`ArchSpec::validate`]).
    pub fn req(&self, r: Role) -> &'a [f32] {
        self.p[r as usize].unwrap_or_else(|| panic!("validated spec lacks {r:?}"))
    }

    /// An optional tensor (a bias).
    pub fn opt(&self, r: Role) -> Option<&'a [f32]> {
        self.p[r as usize]
    }
}

impl<'a> Parts<&'a mut [f32]> {
    /// Takes a required tensor's slice out (each role once).
    pub fn take(&mut self, r: Role) -> &'a mut [f32] {
        self.p[r as usize]
            .take()
            .unwrap_or_else(|| panic!("validated spec lacks {r:?}"))
    }

    /// Takes an optional tensor's slice out.
    pub fn take_opt(&mut self, r: Role) -> Option<&'a mut [f32]> {
        self.p[r as usize].take()
    }
}

impl Views {
    fn block_range(&self, l: usize) -> std::ops::Range<usize> {
        self.blocks + l * self.stride..self.blocks + (l + 1) * self.stride
    }

    /// Block `l`'s tensors.
    pub fn block<'a>(&self, buf: &'a [f32], l: usize) -> Parts<&'a [f32]> {
        let mut p = [None; Role::COUNT];
        let mut rest = &buf[self.block_range(l)];
        for &(role, n) in &self.block_order {
            let (a, b) = rest.split_at(n);
            p[role as usize] = Some(a);
            rest = b;
        }
        Parts { p }
    }

    /// Block `l`'s tensors, mutable.
    pub fn block_mut<'a>(&self, buf: &'a mut [f32], l: usize) -> Parts<&'a mut [f32]> {
        let mut p: [Option<&'a mut [f32]>; Role::COUNT] = Default::default();
        let mut rest = &mut buf[self.block_range(l)];
        for &(role, n) in &self.block_order {
            let (a, b) = std::mem::take(&mut rest).split_at_mut(n);
            p[role as usize] = Some(a);
            rest = b;
        }
        Parts { p }
    }

    /// A non-block tensor with its whole memory (padded `wte` rows included).
    pub fn global<'a>(&self, buf: &'a [f32], r: Role) -> &'a [f32] {
        let (o, n) =
            self.global[r as usize].unwrap_or_else(|| panic!("validated spec lacks {r:?}"));
        &buf[o..o + n]
    }

    /// Every non-block tensor, mutable.
    pub fn globals_mut<'a>(&self, buf: &'a mut [f32]) -> Parts<&'a mut [f32]> {
        let mut p: [Option<&'a mut [f32]>; Role::COUNT] = Default::default();
        let mut rest = buf;
        let mut pos = 0;
        for &(role, o, n) in &self.global_order {
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(o - pos);
            let (a, b) = tail.split_at_mut(n);
            p[role as usize] = Some(a);
            rest = b;
            pos = o + n;
        }
        Parts { p }
    }
}

/// DESIGN §2 initialisation, deterministic in `seed` and independent of the thread count (one
/// sequential ChaCha8 stream in layout order), each tensor as its spec's [`Init`] says (GPT-2:
/// N(0, 0.02) for `wte`, `wpe`, `c_attn` and `c_fc` weights; N(0, 0.02/sqrt(2L)) for both
/// `c_proj` weights; zero biases; LayerNorm weights one). Padded `wte` rows are zero.
pub fn init_params(cfg: &ModelConfig, seed: u64) -> Vec<f32> {
    init_layout(&ParamLayout::new(cfg), seed, None)
}

/// [`init_params`] for any layout; `weight_std` replaces every normal tensor's std (the
/// `bad_init_std` of [`crate::Faults`]).
pub(crate) fn init_layout(layout: &ParamLayout, seed: u64, weight_std: Option<f64>) -> Vec<f32> {
    let mut params = vec![0.0f32; layout.len];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for t in &layout.tensors {
        let dst = &mut params[t.range()];
        match t.init {
            Init::Ones => dst.fill(1.0),
            Init::Zeros => dst.fill(0.0),
            Init::Normal { std } => fill_normal(dst, weight_std.unwrap_or(std), &mut rng),
        }
    }
    params
}

/// Rounds every value to the nearest bfloat16 (ties to even), kept in f32 storage (the
/// `bf16_weights` of [`crate::Faults`]): small updates are lost in the rounding.
pub(crate) fn round_to_bf16(values: &mut [f32]) {
    values
        .par_iter_mut()
        .for_each(|v| *v = half::bf16::from_f32(*v).to_f32());
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
            ..ModelConfig::default()
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
        // wte (padded to 64 rows), wpe, 2 blocks of 12·C² + 13·C, ln_f.
        assert_eq!(l.len, 64 * 16 + 8 * 16 + 2 * (12 * 256 + 13 * 16) + 2 * 16);
        let groups: Vec<&str> = l.tensors.iter().map(|t| t.group.as_str()).collect();
        assert_eq!(groups[..3], ["wte", "wpe", "h.0"]);
        assert_eq!(groups[groups.len() - 2..], ["ln_f", "ln_f"]);
        assert_eq!(l.tensors[14].group, "h.1");
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
        let v = l.views();
        let buf: Vec<f32> = (0..l.len).map(|i| i as f32).collect();
        let b = v.block(&buf, 1);
        let spec = l.get("transformer.h.1.mlp.c_fc.bias").unwrap();
        let fc_b = b.opt(Role::FcBias).unwrap();
        assert_eq!(fc_b[0], spec.offset as f32);
        assert_eq!(fc_b.len(), spec.numel());
        assert_eq!(
            v.global(&buf, Role::FinalNormWeight)[0],
            l.get("transformer.ln_f.weight").unwrap().offset as f32
        );
        assert_eq!(
            v.global(&buf, Role::FinalNormBias)[0],
            l.get("transformer.ln_f.bias").unwrap().offset as f32
        );
        // wte's view covers its padded rows; the mutable views cut the same places.
        assert_eq!(v.global(&buf, Role::TokenEmbedding).len(), 64 * 16);
        let mut buf2 = buf.clone();
        let mut g = v.globals_mut(&mut buf2);
        assert_eq!(
            g.take(Role::PositionEmbedding)[0],
            l.tensors[1].offset as f32
        );
        assert_eq!(
            g.take(Role::FinalNormBias)[0],
            l.tensors.last().unwrap().offset as f32
        );
        let mut bm = v.block_mut(&mut buf2, 1);
        assert_eq!(
            bm.take(Role::FcProjWeight)[0],
            l.get("transformer.h.1.mlp.c_proj.weight").unwrap().offset as f32
        );
    }

    #[test]
    fn fused_views_cover_adjacent_parts() {
        let cfg = ModelConfig {
            arch: crate::Arch::Llama,
            norm: crate::NormKind::RmsNorm,
            ffn_width: Some(24),
            ..tiny()
        };
        let l = ParamLayout::new(&cfg);
        let v = l.views();
        let buf: Vec<f32> = (0..l.len).map(|i| i as f32).collect();
        let b = v.block(&buf, 1);
        let q = l.get("model.layers.1.self_attn.q_proj.weight").unwrap();
        let qkv = b.req(Role::QkvLinear);
        assert_eq!((qkv[0], qkv.len()), (q.offset as f32, 3 * 16 * 16));
        let gate = l.get("model.layers.1.mlp.gate_proj.weight").unwrap();
        let gu = b.req(Role::GateUpLinear);
        assert_eq!((gu[0], gu.len()), (gate.offset as f32, 2 * 24 * 16));
        assert!(
            b.opt(Role::QProj).is_none(),
            "parts are read only through the fused view"
        );
        let mut buf2 = buf.clone();
        let mut bm = v.block_mut(&mut buf2, 1);
        assert_eq!(bm.take(Role::GateUpLinear).len(), 2 * 24 * 16);
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
        let a = init_layout(&l, 7, Some(1.0));
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
