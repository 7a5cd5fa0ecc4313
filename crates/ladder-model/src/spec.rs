//! Architecture specs: the one place a family's parameters are written down.
//!
//! An [`ArchSpec`] lists every tensor of a model (role, Hugging Face name, shape, initialisation,
//! weight decay) in buffer order. Everything else is derived from it: the flat
//! [`crate::ParamLayout`], the per-block views the kernels read, parameter counts, FLOPs per
//! token, initial values, export names and the per-layer grouping of diagnosis. The forward pass
//! finds tensors by [`Role`], never by name, so a family that drops or adds tensors (e.g. GPT-2
//! without biases) is a new spec, not a new forward pass.

use serde::{Deserialize, Serialize};

use crate::config::ModelConfig;
use crate::error::{Error, Result};

/// Model family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Hugging Face `GPT2LMHeadModel` (DESIGN §2).
    #[default]
    Gpt2,
    /// Hugging Face `LlamaForCausalLM`: RMSNorm, rotary positions, SwiGLU MLP, no biases.
    Llama,
}

impl Arch {
    /// The name used in configs (`model.arch`).
    pub fn name(self) -> &'static str {
        match self {
            Arch::Gpt2 => "gpt2",
            Arch::Llama => "llama",
        }
    }

    /// The family's normalisation layer.
    pub fn norm(self) -> NormKind {
        match self {
            Arch::Gpt2 => NormKind::LayerNorm,
            Arch::Llama => NormKind::RmsNorm,
        }
    }
}

/// Normalisation layer of a family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormKind {
    /// LayerNorm with weight and bias, eps 1e-5 (GPT-2).
    #[default]
    LayerNorm,
    /// RMSNorm with a weight only, eps `norm_eps` (Llama).
    RmsNorm,
}

/// What a tensor does. The model code asks a layout for a role; a spec decides which roles exist.
/// Biases are optional (absent: no bias add); every other role of a block is required.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum Role {
    /// Token embedding (also the tied lm head), `[V, C]`, rows padded to `Vp` in memory.
    TokenEmbedding,
    /// Learned position embedding, `[block_size, C]`.
    PositionEmbedding,
    /// Norm before attention: weight.
    Norm1Weight,
    /// Norm before attention: bias.
    Norm1Bias,
    /// Fused q|k|v projection weight `[C, 3C]`.
    QkvWeight,
    /// Fused q|k|v projection bias.
    QkvBias,
    /// Attention output projection weight `[C, C]`.
    AttnProjWeight,
    /// Attention output projection bias.
    AttnProjBias,
    /// Norm before the MLP: weight.
    Norm2Weight,
    /// Norm before the MLP: bias.
    Norm2Bias,
    /// MLP up projection weight `[C, F]`.
    FcWeight,
    /// MLP up projection bias.
    FcBias,
    /// MLP down projection weight `[F, C]`.
    FcProjWeight,
    /// MLP down projection bias.
    FcProjBias,
    /// Final norm: weight.
    FinalNormWeight,
    /// Final norm: bias.
    FinalNormBias,
    /// Query projection, `nn.Linear` layout `[C, C]` (out, in); part of [`Role::QkvLinear`].
    QProj,
    /// Key projection `[C, C]`; part of [`Role::QkvLinear`].
    KProj,
    /// Value projection `[C, C]`; part of [`Role::QkvLinear`].
    VProj,
    /// Attention output projection, `nn.Linear` layout `[C, C]`.
    OProj,
    /// SwiGLU gate projection `[F, C]`; part of [`Role::GateUpLinear`].
    GateProj,
    /// SwiGLU up projection `[F, C]`; part of [`Role::GateUpLinear`].
    UpProj,
    /// SwiGLU down projection `[C, F]`.
    DownProj,
    /// Untied output head `[V, C]`, rows padded to `Vp` in memory (absent: the head is tied to
    /// [`Role::TokenEmbedding`]).
    LmHead,
    /// Not a tensor of a spec: `q_proj | k_proj | v_proj` as one `[3C, C]` matrix (they are
    /// adjacent in the buffer), so one matmul yields the packed q|k|v rows attention reads.
    QkvLinear,
    /// Not a tensor of a spec: `gate_proj | up_proj` as one `[2F, C]` matrix.
    GateUpLinear,
}

impl Role {
    /// Number of roles (the size of per-role lookup tables).
    pub const COUNT: usize = Role::GateUpLinear as usize + 1;

    /// Whether the model runs without this tensor (biases; the kernels then add nothing).
    pub fn optional(self) -> bool {
        matches!(
            self,
            Role::QkvBias | Role::AttnProjBias | Role::FcBias | Role::FcProjBias
        )
    }

    /// The fused view this tensor is a part of: a spec lists the parts adjacent and in this
    /// order, and the model reads them as one matrix (`QkvLinear`, `GateUpLinear`).
    pub fn fused_into(self) -> Option<(Role, &'static [Role])> {
        const QKV: &[Role] = &[Role::QProj, Role::KProj, Role::VProj];
        const GATE_UP: &[Role] = &[Role::GateProj, Role::UpProj];
        match self {
            Role::QProj | Role::KProj | Role::VProj => Some((Role::QkvLinear, QKV)),
            Role::GateProj | Role::UpProj => Some((Role::GateUpLinear, GATE_UP)),
            _ => None,
        }
    }
}

/// How a tensor is initialised (DESIGN §2 for GPT-2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// All zeros (biases).
    Zeros,
    /// All ones (norm weights).
    Ones,
    /// N(0, std²), drawn from the seed's stream in layout order.
    Normal {
        /// Standard deviation.
        std: f64,
    },
}

/// Where a tensor sits in the buffer: before the blocks, in each block, or after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Before the blocks; not part of Kaplan's N.
    Embedding,
    /// Repeated in every block; the name is relative to the block prefix.
    Block,
    /// After the blocks (final norm).
    Final,
}

/// One tensor of a spec.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorDef {
    /// What the model uses it for.
    pub role: Role,
    /// Where it sits.
    pub place: Place,
    /// Hugging Face name; for [`Place::Block`] the part after `transformer.h.{l}.`.
    pub name: &'static str,
    /// Shape as Hugging Face stores it (real vocabulary for the token embedding).
    pub shape: Vec<usize>,
    /// Elements the tensor occupies in the flat buffer (≥ the shape's product: padded rows).
    pub mem: usize,
    /// Initial values.
    pub init: Init,
    /// Whether AdamW applies weight decay (nanoGPT policy: tensors with 2 or more dimensions).
    pub decay: bool,
}

impl TensorDef {
    /// A tensor whose memory is exactly its shape; decay on 2-D and larger tensors.
    pub fn new(
        role: Role,
        place: Place,
        name: &'static str,
        shape: Vec<usize>,
        init: Init,
    ) -> Self {
        let mem = shape.iter().product();
        let decay = shape.len() >= 2;
        TensorDef {
            role,
            place,
            name,
            shape,
            mem,
            init,
            decay,
        }
    }

    /// Elements of the shape.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Prefix of every GPT-2 block tensor's name: `transformer.h.{l}.`; its group in per-layer
/// statistics is `h.{l}`.
pub const BLOCK_PREFIX: &str = "transformer.h.";

/// Prefix of every Llama block tensor's name: `model.layers.{l}.` (group `h.{l}` as for GPT-2).
pub const LLAMA_BLOCK_PREFIX: &str = "model.layers.";

/// The block code a spec needs (derived from its roles by [`ArchSpec::family`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// LayerNorm, Conv1D q|k|v, learned positions, GELU MLP, tied head.
    Gpt2,
    /// RMSNorm, `nn.Linear` projections, rotary positions, SwiGLU MLP, tied or untied head.
    Llama,
}

/// Whether a per-layer statistics group (`LayerStat::layer`) is a transformer block (`h.{l}`),
/// for every family: diagnosis uses it to tell block layers from embeddings and final norms.
pub fn is_block_group(group: &str) -> bool {
    group
        .strip_prefix("h.")
        .is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
}

/// A family's tensors for one [`ModelConfig`], plus what exporting needs.
#[derive(Clone, Debug, PartialEq)]
pub struct ArchSpec {
    /// Short name (`gpt2`).
    pub name: &'static str,
    /// Tensors before the blocks, in order.
    pub embeddings: Vec<TensorDef>,
    /// One block's tensors, in order (repeated `n_layer` times).
    pub block: Vec<TensorDef>,
    /// Tensors after the blocks, in order.
    pub finals: Vec<TensorDef>,
    /// Hugging Face `architectures[0]` of an export (`GPT2LMHeadModel`).
    pub hf_architecture: &'static str,
    /// Hugging Face `model_type` of an export (`gpt2`).
    pub hf_model_type: &'static str,
}

impl ArchSpec {
    /// The spec of `cfg.arch` for `cfg`'s shape.
    pub fn of(cfg: &ModelConfig) -> Self {
        match cfg.arch {
            Arch::Gpt2 => Self::gpt2(cfg),
            Arch::Llama => Self::llama(cfg),
        }
    }

    /// Hugging Face `LlamaForCausalLM`, `named_parameters()` order except that an untied
    /// `lm_head.weight` sits after the token embedding (both are outside Kaplan's N):
    /// `model.embed_tokens, [lm_head], model.layers.0.{input_layernorm, self_attn.{q,k,v,o}_proj,
    /// post_attention_layernorm, mlp.{gate,up,down}_proj}.weight, …, model.norm.weight`.
    /// `nn.Linear` weights are `[out, in]`; q|k|v and gate|up are adjacent, so the model reads
    /// each group as one matrix ([`Role::QkvLinear`], [`Role::GateUpLinear`]). No biases.
    /// Init as HF's `_init_weights`: N(0, 0.02) (`initializer_range`) for every linear and
    /// embedding weight, no depth scaling; RMSNorm weights one.
    pub fn llama(cfg: &ModelConfig) -> Self {
        use Init::Ones;
        use Place::{Block, Embedding, Final};
        use Role::*;
        let (c, f) = (cfg.n_embd, cfg.ffn_width());
        let w = Init::Normal { std: 0.02 };
        let t = TensorDef::new;
        let padded = |def: TensorDef| TensorDef {
            mem: cfg.padded_vocab_size() * c,
            ..def
        };
        let mut embeddings = vec![padded(t(
            TokenEmbedding,
            Embedding,
            "model.embed_tokens.weight",
            vec![cfg.vocab_size, c],
            w,
        ))];
        if !cfg.tie_embeddings() {
            embeddings.push(padded(t(
                LmHead,
                Embedding,
                "lm_head.weight",
                vec![cfg.vocab_size, c],
                w,
            )));
        }
        ArchSpec {
            name: "llama",
            embeddings,
            block: vec![
                t(Norm1Weight, Block, "input_layernorm.weight", vec![c], Ones),
                t(QProj, Block, "self_attn.q_proj.weight", vec![c, c], w),
                t(KProj, Block, "self_attn.k_proj.weight", vec![c, c], w),
                t(VProj, Block, "self_attn.v_proj.weight", vec![c, c], w),
                t(OProj, Block, "self_attn.o_proj.weight", vec![c, c], w),
                t(
                    Norm2Weight,
                    Block,
                    "post_attention_layernorm.weight",
                    vec![c],
                    Ones,
                ),
                t(GateProj, Block, "mlp.gate_proj.weight", vec![f, c], w),
                t(UpProj, Block, "mlp.up_proj.weight", vec![f, c], w),
                t(DownProj, Block, "mlp.down_proj.weight", vec![c, f], w),
            ],
            finals: vec![t(
                FinalNormWeight,
                Final,
                "model.norm.weight",
                vec![c],
                Ones,
            )],
            hf_architecture: "LlamaForCausalLM",
            hf_model_type: "llama",
        }
    }

    /// Which block code runs this spec, from the roles it has: GPT-2's (Conv1D `QkvWeight`) or
    /// Llama's (`nn.Linear` q/k/v projections).
    pub(crate) fn family(&self) -> Family {
        if self.block.iter().any(|t| t.role == Role::QProj) {
            Family::Llama
        } else {
            Family::Gpt2
        }
    }

    /// Prefix of every block tensor's name: `transformer.h.` for GPT-2 specs, `model.layers.`
    /// for Llama's (by the Hugging Face model type).
    pub fn block_prefix(&self) -> &'static str {
        match self.hf_model_type {
            "llama" => LLAMA_BLOCK_PREFIX,
            _ => BLOCK_PREFIX,
        }
    }

    /// GPT-2 (DESIGN §1–2), Hugging Face `named_parameters()` order: `wte, wpe, h.0.{ln_1,
    /// attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj}.{weight,bias}, h.1 …, ln_f`.
    /// Conv1D weights are `[in, out]`. Init: N(0, 0.02) weights, N(0, 0.02/√(2L)) for both
    /// `c_proj` weights (GPT-2 paper §2.3: residual branches scaled by depth), zero biases,
    /// norm weights one.
    pub fn gpt2(cfg: &ModelConfig) -> Self {
        use Init::{Ones, Zeros};
        use Place::{Block, Embedding, Final};
        use Role::*;
        let (c, f) = (cfg.n_embd, cfg.ffn_width());
        let w = Init::Normal { std: 0.02 };
        let proj = Init::Normal {
            std: 0.02 / (2.0 * cfg.n_layer as f64).sqrt(),
        };
        let t = TensorDef::new;
        let wte = TensorDef {
            mem: cfg.padded_vocab_size() * c,
            ..t(
                TokenEmbedding,
                Embedding,
                "transformer.wte.weight",
                vec![cfg.vocab_size, c],
                w,
            )
        };
        ArchSpec {
            name: "gpt2",
            embeddings: vec![
                wte,
                t(
                    PositionEmbedding,
                    Embedding,
                    "transformer.wpe.weight",
                    vec![cfg.block_size, c],
                    w,
                ),
            ],
            block: vec![
                t(Norm1Weight, Block, "ln_1.weight", vec![c], Ones),
                t(Norm1Bias, Block, "ln_1.bias", vec![c], Zeros),
                t(QkvWeight, Block, "attn.c_attn.weight", vec![c, 3 * c], w),
                t(QkvBias, Block, "attn.c_attn.bias", vec![3 * c], Zeros),
                t(
                    AttnProjWeight,
                    Block,
                    "attn.c_proj.weight",
                    vec![c, c],
                    proj,
                ),
                t(AttnProjBias, Block, "attn.c_proj.bias", vec![c], Zeros),
                t(Norm2Weight, Block, "ln_2.weight", vec![c], Ones),
                t(Norm2Bias, Block, "ln_2.bias", vec![c], Zeros),
                t(FcWeight, Block, "mlp.c_fc.weight", vec![c, f], w),
                t(FcBias, Block, "mlp.c_fc.bias", vec![f], Zeros),
                t(FcProjWeight, Block, "mlp.c_proj.weight", vec![f, c], proj),
                t(FcProjBias, Block, "mlp.c_proj.bias", vec![c], Zeros),
            ],
            finals: vec![
                t(
                    FinalNormWeight,
                    Final,
                    "transformer.ln_f.weight",
                    vec![c],
                    Ones,
                ),
                t(
                    FinalNormBias,
                    Final,
                    "transformer.ln_f.bias",
                    vec![c],
                    Zeros,
                ),
            ],
            hf_architecture: "GPT2LMHeadModel",
            hf_model_type: "gpt2",
        }
    }

    /// Every tensor def in buffer order with its full name (blocks expanded for `n_layer`).
    pub fn expanded(
        &self,
        n_layer: usize,
    ) -> impl Iterator<Item = (String, Option<usize>, &TensorDef)> + '_ {
        let head = self
            .embeddings
            .iter()
            .map(|t| (t.name.to_string(), None, t));
        let prefix = self.block_prefix();
        let blocks = (0..n_layer).flat_map(move |l| {
            self.block
                .iter()
                .map(move |t| (format!("{prefix}{l}.{}", t.name), Some(l), t))
        });
        let tail = self.finals.iter().map(|t| (t.name.to_string(), None, t));
        head.chain(blocks).chain(tail)
    }

    /// Checks what the model code relies on: every non-optional role of the pre-norm block is
    /// present exactly once and in the right place, and no role appears twice.
    pub fn validate(&self) -> Result<()> {
        let mut seen = [None::<Place>; Role::COUNT];
        for t in self
            .embeddings
            .iter()
            .chain(&self.block)
            .chain(&self.finals)
        {
            let slot = &mut seen[t.role as usize];
            if slot.is_some() {
                return Err(Error::Spec {
                    arch: self.name,
                    message: format!("role {:?} appears twice", t.role),
                });
            }
            *slot = Some(t.place);
        }
        use Role::*;
        let gpt2: &[(Role, Place)] = &[
            (TokenEmbedding, Place::Embedding),
            (PositionEmbedding, Place::Embedding),
            (Norm1Weight, Place::Block),
            (Norm1Bias, Place::Block),
            (QkvWeight, Place::Block),
            (QkvBias, Place::Block),
            (AttnProjWeight, Place::Block),
            (AttnProjBias, Place::Block),
            (Norm2Weight, Place::Block),
            (Norm2Bias, Place::Block),
            (FcWeight, Place::Block),
            (FcBias, Place::Block),
            (FcProjWeight, Place::Block),
            (FcProjBias, Place::Block),
            (FinalNormWeight, Place::Final),
            (FinalNormBias, Place::Final),
        ];
        let llama: &[(Role, Place)] = &[
            (TokenEmbedding, Place::Embedding),
            (LmHead, Place::Embedding),
            (Norm1Weight, Place::Block),
            (QProj, Place::Block),
            (KProj, Place::Block),
            (VProj, Place::Block),
            (OProj, Place::Block),
            (Norm2Weight, Place::Block),
            (GateProj, Place::Block),
            (UpProj, Place::Block),
            (DownProj, Place::Block),
            (FinalNormWeight, Place::Final),
        ];
        let want = match self.family() {
            Family::Gpt2 => gpt2,
            Family::Llama => llama,
        };
        for (role, place) in want.iter().copied() {
            match seen[role as usize] {
                Some(p) if p == place => {}
                None if role.optional() || role == LmHead => {}
                got => {
                    return Err(Error::Spec {
                        arch: self.name,
                        message: format!(
                            "role {role:?} must be present in {place:?}, found {got:?}"
                        ),
                    })
                }
            }
        }
        let all = self
            .embeddings
            .iter()
            .chain(&self.block)
            .chain(&self.finals);
        for role in all.map(|t| t.role) {
            if !want.iter().any(|&(r, _)| r == role) {
                return Err(Error::Spec {
                    arch: self.name,
                    message: format!("role {role:?} is not used by this family's block code"),
                });
            }
        }
        // Fused parts must sit next to each other, in order, so one slice covers them.
        for (i, t) in self.block.iter().enumerate() {
            if let Some((fused, parts)) = t.role.fused_into() {
                if t.role != parts[0] {
                    continue;
                }
                let run: Vec<Role> = self.block[i..]
                    .iter()
                    .take(parts.len())
                    .map(|t| t.role)
                    .collect();
                if run != parts {
                    return Err(Error::Spec {
                        arch: self.name,
                        message: format!(
                            "{parts:?} must be adjacent and in this order (they form {fused:?})"
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Kaplan's N: every parameter except the embeddings (blocks and final tensors).
    pub fn n_params_non_embedding(&self, n_layer: usize) -> u64 {
        let sum = |ts: &[TensorDef]| ts.iter().map(|t| t.numel() as u64).sum::<u64>();
        n_layer as u64 * sum(&self.block) + sum(&self.finals)
    }

    /// All parameters with the real vocabulary (a tied head is counted once).
    pub fn n_params_total(&self, n_layer: usize) -> u64 {
        let emb: u64 = self.embeddings.iter().map(|t| t.numel() as u64).sum();
        self.n_params_non_embedding(n_layer) + emb
    }

    /// Training FLOPs per token, forward + backward: `6·(N + V·C) + 12·L·T·C` with N from
    /// [`ArchSpec::n_params_non_embedding`], V the real vocabulary, C the width of the tied lm
    /// head and of attention, and T = `seq_len`. The lm-head matmul is counted, position
    /// embeddings are not, and attention is counted without a causal discount (PaLM appendix
    /// B; the convention of BENCH-ANCHORS.md).
    pub fn train_flops_per_token(&self, cfg: &ModelConfig, seq_len: usize) -> f64 {
        let n = self.n_params_non_embedding(cfg.n_layer) as f64;
        let vc = (cfg.vocab_size * cfg.n_embd) as f64;
        let attn = 12.0 * (cfg.n_layer * seq_len * cfg.n_embd) as f64;
        6.0 * (n + vc) + attn
    }

    /// The per-layer statistics group of a tensor: `h.{l}` in block `l`; otherwise the name
    /// without `transformer.` (GPT-2) or `model.` (Llama) up to its first dot (`wte`, `wpe`,
    /// `ln_f`; `embed_tokens`, `norm`, `lm_head`).
    pub fn group(name: &str, layer: Option<usize>) -> String {
        match layer {
            Some(l) => format!("h.{l}"),
            None => {
                let rest = name
                    .strip_prefix("transformer.")
                    .or_else(|| name.strip_prefix("model."))
                    .unwrap_or(name);
                rest.split('.').next().unwrap_or(rest).to_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_spec_is_valid_and_a_missing_required_role_is_named() {
        let cfg = ModelConfig::default();
        let spec = ArchSpec::gpt2(&cfg);
        spec.validate().unwrap();
        let mut broken = spec.clone();
        broken.block.retain(|t| t.role != Role::FcWeight);
        let e = broken.validate().unwrap_err().to_string();
        assert!(e.contains("FcWeight") && e.contains("gpt2"), "{e}");
        let mut no_bias = spec;
        no_bias.block.retain(|t| !t.role.optional());
        no_bias.validate().unwrap();
    }

    #[test]
    fn llama_spec_is_valid_and_its_fused_parts_must_be_adjacent() {
        let cfg = ModelConfig {
            arch: Arch::Llama,
            norm: NormKind::RmsNorm,
            ..ModelConfig::default()
        };
        let spec = ArchSpec::llama(&cfg);
        spec.validate().unwrap();
        assert_eq!(spec.family(), Family::Llama);
        assert_eq!(
            ArchSpec::gpt2(&ModelConfig::default()).family(),
            Family::Gpt2
        );
        assert_eq!(spec.block_prefix(), "model.layers.");
        let mut swapped = spec.clone();
        swapped.block.swap(2, 3); // k before q
        let e = swapped.validate().unwrap_err().to_string();
        assert!(e.contains("adjacent") && e.contains("QkvLinear"), "{e}");
        let mut broken = spec.clone();
        broken.block.retain(|t| t.role != Role::UpProj);
        let e = broken.validate().unwrap_err().to_string();
        assert!(e.contains("UpProj"), "{e}");
        let mut foreign = spec;
        foreign.block.push(TensorDef::new(
            Role::FcBias,
            Place::Block,
            "x",
            vec![4],
            Init::Zeros,
        ));
        let e = foreign.validate().unwrap_err().to_string();
        assert!(e.contains("FcBias") && e.contains("not used"), "{e}");
    }

    #[test]
    fn block_groups_are_recognised() {
        assert!(is_block_group("h.0") && is_block_group("h.12"));
        assert!(!is_block_group("wte") && !is_block_group("h.") && !is_block_group("h.x"));
        assert!(!is_block_group("ln_f"));
    }
}
