//! The model-shape families of a ladder: for a target number of non-embedding parameters N, a
//! GPT-2 shape (n_layer, n_embd, n_head) drawn from ONE consistent family, so every run of a ladder
//! follows the same law.
//!
//! N = L·(12·d² + 13·d) + 2·d (`ladder_model::ModelConfig::n_params_non_embedding`), so one N can
//! be reached by many (L, d). At small scale N alone does not capture the shape: in a ladder that
//! mixed 1- and 2-layer models every 2-layer run sat 1.5–4.8 % above the fitted Chinchilla law and
//! every 1-layer run within ±1 % (residual RMSE 1.93 %; the 1-layer runs alone: 0.30 %). So a plan
//! fixes one family for all its runs:
//!
//! - [`Family::Depth`] (`depth:L`): every run has L blocks; the width d is scaled.
//! - [`Family::Aspect`] (`aspect:R`): every run has d ≈ R·L (d rounded to a multiple of 16) with
//!   L ≥ 2; depth and width grow together (Kaplan et al. 2020 found the loss flat over a wide
//!   range of d/L at fixed N, so one fixed ratio is a fair family).
//!
//! In both, widths are multiples of [`WIDTH_STEP`] and heads are [`HEAD_DIM`] channels wide, so
//! n_head = d / 16 and the attention's per-head shape is the same in every run.

use ladder_model::Arch;
use serde::{Deserialize, Serialize};

/// Channels per attention head in every family shape (n_head = n_embd / HEAD_DIM).
pub const HEAD_DIM: usize = 16;
/// Widths are multiples of this.
pub const WIDTH_STEP: usize = 16;
/// Widest model of a family.
const MAX_EMBD: usize = 2048;
/// Deepest model of a family.
pub const MAX_LAYER: usize = 48;
/// A target further than this factor outside a family's N range has no shape.
const RANGE_SLACK: f64 = 1.25;

/// One model shape of a family (GPT-2 unless `arch` says otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shape {
    /// Transformer blocks (L).
    pub n_layer: usize,
    /// Channels (d).
    pub n_embd: usize,
    /// Attention heads (H), dividing d.
    pub n_head: usize,
    /// The architecture whose N this shape counts (its spec decides: Llama's SwiGLU MLP and
    /// bias-free blocks give a different N for the same L and d).
    #[serde(default, skip_serializing_if = "is_gpt2")]
    pub arch: Arch,
}

fn is_gpt2(a: &Arch) -> bool {
    *a == Arch::Gpt2
}

impl Shape {
    /// A shape with the families' heads ([`HEAD_DIM`] channels each) for width `n_embd`.
    pub fn new(n_layer: usize, n_embd: usize) -> Shape {
        Shape {
            n_layer,
            n_embd,
            n_head: (n_embd / HEAD_DIM).max(1),
            arch: Arch::Gpt2,
        }
    }

    /// The same dimensions in architecture `arch`.
    pub fn with_arch(self, arch: Arch) -> Shape {
        Shape { arch, ..self }
    }

    /// Kaplan's N, exactly as `ladder train` reports it in summary.json (counted through the
    /// architecture's spec, with its default MLP width).
    pub fn n_params(&self) -> u64 {
        self.model(1).n_params_non_embedding()
    }

    /// The model config with vocabulary `vocab` (block size irrelevant to N; 1 is a placeholder
    /// the caller replaces).
    pub fn model(&self, vocab: usize) -> ladder_model::ModelConfig {
        ladder_model::ModelConfig {
            n_layer: self.n_layer,
            n_embd: self.n_embd,
            n_head: self.n_head,
            block_size: 1,
            vocab_size: vocab,
            arch: self.arch,
            norm: self.arch.norm(),
            ..ladder_model::ModelConfig::default()
        }
    }
}

/// A consistent shape family (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Family {
    /// Fixed depth L, width scaled.
    Depth(usize),
    /// Fixed width/depth ratio R (d = R·L rounded to a multiple of 16), L ≥ 2.
    Aspect(f64),
}

/// The default of `ladder sweep plan`: one block, width scaled. At the quickstart's scale (N of a
/// few thousand to a few hundred thousand) it is the family whose runs measurably follow one law
/// (residual RMSE 0.30 % against 1.93 % for mixed depths), and the only one whose N grid is fine
/// there: widths 16, 32, 48 ... give N = 3,312, 12,768, 28,368 ... where 2 blocks start at 6,592
/// and an aspect family jumps ~3× in N per added layer.
pub const DEFAULT_FAMILY: Family = Family::Depth(1);

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Family::Depth(l) => write!(f, "depth:{l}"),
            Family::Aspect(r) => write!(f, "aspect:{r}"),
        }
    }
}

impl std::str::FromStr for Family {
    type Err = String;
    fn from_str(s: &str) -> Result<Family, String> {
        let usage = "expected depth:L (fixed depth, e.g. depth:1) or aspect:R (fixed width/depth \
                     ratio with L >= 2, e.g. aspect:32)";
        let (kind, value) = s.split_once(':').ok_or_else(|| format!("{s:?}: {usage}"))?;
        match kind.trim() {
            "depth" => match value.trim().parse::<usize>() {
                Ok(l) if (1..=MAX_LAYER).contains(&l) => Ok(Family::Depth(l)),
                _ => Err(format!(
                    "{s:?}: the depth must be a whole number of blocks from 1 to {MAX_LAYER}"
                )),
            },
            "aspect" => match value.trim().parse::<f64>() {
                Ok(r) if (8.0..=512.0).contains(&r) => Ok(Family::Aspect(r)),
                _ => Err(format!(
                    "{s:?}: the aspect ratio d/L must be a number from 8 to 512 (e.g. 32 or 64)"
                )),
            },
            _ => Err(format!("{s:?}: {usage}")),
        }
    }
}

impl Family {
    /// Every GPT-2 shape of the family, sorted by N.
    pub fn shapes(&self) -> Vec<Shape> {
        self.shapes_of(Arch::Gpt2)
    }

    /// Every shape of the family in architecture `arch`, sorted by that architecture's N.
    pub fn shapes_of(&self, arch: Arch) -> Vec<Shape> {
        let mut out: Vec<Shape> = match *self {
            Family::Depth(l) => (WIDTH_STEP..=MAX_EMBD)
                .step_by(WIDTH_STEP)
                .map(|d| Shape::new(l, d).with_arch(arch))
                .collect(),
            Family::Aspect(r) => (2..=MAX_LAYER)
                .map(|l| Shape::new(l, aspect_width(r, l)).with_arch(arch))
                .filter(|s| s.n_embd <= MAX_EMBD)
                .collect(),
        };
        out.sort_by_key(|s| (s.n_params(), s.n_layer));
        out.dedup();
        out
    }

    /// Whether `s` belongs to the family (in its own architecture).
    pub fn contains(&self, s: &Shape) -> bool {
        self.shapes_of(s.arch).contains(s)
    }

    /// The family's smallest and largest N (GPT-2).
    pub fn range(&self) -> (f64, f64) {
        self.range_of(Arch::Gpt2)
    }

    /// The family's smallest and largest N in architecture `arch`.
    pub fn range_of(&self, arch: Arch) -> (f64, f64) {
        let fam = self.shapes_of(arch);
        match (fam.first(), fam.last()) {
            (Some(a), Some(b)) => (a.n_params() as f64, b.n_params() as f64),
            _ => (0.0, 0.0),
        }
    }

    /// The family's shape whose N is nearest `target` in log space, skipping `taken`; `None` when
    /// the target lies outside the family's range by more than 25 %.
    pub fn shape_for(&self, target: f64, taken: &[Shape]) -> Option<Shape> {
        self.shape_for_arch(Arch::Gpt2, target, taken)
    }

    /// [`Family::shape_for`] with N counted in architecture `arch`.
    pub fn shape_for_arch(&self, arch: Arch, target: f64, taken: &[Shape]) -> Option<Shape> {
        let (min, max) = self.range_of(arch);
        if !(target >= min / RANGE_SLACK && target <= max * RANGE_SLACK) {
            return None;
        }
        let cost = |s: &Shape| (s.n_params() as f64 / target).ln().abs();
        self.shapes_of(arch)
            .into_iter()
            .filter(|s| !taken.contains(s))
            .min_by(|a, b| cost(a).total_cmp(&cost(b)))
    }

    /// The family's shape nearest `target`, or its nearest end when the target lies outside.
    pub fn nearest(&self, target: f64) -> Shape {
        let fam = self.shapes();
        self.shape_for(target, &[]).unwrap_or_else(|| {
            if target < fam[0].n_params() as f64 {
                fam[0]
            } else {
                fam[fam.len() - 1]
            }
        })
    }
}

/// The width of an aspect family's L-block shape: R·L rounded to a multiple of 16 (at least 16).
fn aspect_width(r: f64, l: usize) -> usize {
    let d = (r * l as f64 / WIDTH_STEP as f64).round() as usize * WIDTH_STEP;
    d.max(WIDTH_STEP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_parse_and_print() {
        assert_eq!("depth:2".parse::<Family>().unwrap(), Family::Depth(2));
        assert_eq!("aspect:32".parse::<Family>().unwrap(), Family::Aspect(32.0));
        assert_eq!(Family::Depth(1).to_string(), "depth:1");
        assert_eq!(Family::Aspect(48.0).to_string(), "aspect:48");
        for bad in ["depth:0", "depth:x", "aspect:2", "width:3", "depth"] {
            assert!(bad.parse::<Family>().is_err(), "{bad}");
        }
    }

    #[test]
    fn depth_family_fixes_depth_and_head_width() {
        let fam = Family::Depth(2);
        for s in fam.shapes() {
            assert_eq!(s.n_layer, 2);
            assert_eq!(s.n_embd % WIDTH_STEP, 0);
            assert_eq!(s.n_embd / s.n_head, HEAD_DIM, "{s:?}");
        }
        // The tiny preset's shape (2 × 64, N = 100,096) is the family's pick at its own size.
        assert_eq!(fam.shape_for(100_096.0, &[]).unwrap(), Shape::new(2, 64));
        assert!(fam.shape_for(1e3, &[]).is_none());
        let (min, _) = Family::Depth(1).range();
        assert_eq!(min, 3312.0);
    }

    #[test]
    fn aspect_family_keeps_the_ratio_with_at_least_two_blocks() {
        let fam = Family::Aspect(32.0);
        for s in fam.shapes() {
            assert!(s.n_layer >= 2);
            assert_eq!(s.n_embd, s.n_layer * 32, "{s:?}");
        }
        for target in [1e5, 1e6, 1e7] {
            let s = fam.shape_for(target, &[]).unwrap();
            assert!((s.n_params() as f64 / target).ln().abs() < 0.7, "{s:?}");
        }
    }

    #[test]
    fn llama_shapes_count_n_through_the_llama_spec() {
        let s = Shape::new(2, 64).with_arch(Arch::Llama);
        // Per block 2d (RMSNorm) + 4d² (attention) + 3·d·F with F = 176, plus the final norm.
        assert_eq!(s.n_params(), 2 * (2 * 64 + 4 * 64 * 64 + 3 * 64 * 176) + 64);
        assert_ne!(s.n_params(), Shape::new(2, 64).n_params());
        let fam = Family::Depth(2);
        let pick = fam
            .shape_for_arch(Arch::Llama, s.n_params() as f64, &[])
            .unwrap();
        assert_eq!(pick, s);
        assert!(fam.contains(&pick) && !fam.contains(&Shape { n_head: 1, ..pick }));
        // GPT-2 shapes serialise as before (no arch key); Llama ones name it.
        let j = serde_json::to_string(&Shape::new(2, 64)).unwrap();
        assert!(!j.contains("arch"), "{j}");
        assert!(serde_json::to_string(&s).unwrap().contains("llama"));
    }

    #[test]
    fn shape_for_skips_taken_shapes() {
        let fam = Family::Depth(1);
        let a = fam.shape_for(1e4, &[]).unwrap();
        let b = fam.shape_for(1e4, &[a]).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.n_layer, b.n_layer);
    }
}
