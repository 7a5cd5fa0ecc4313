//! `ladder export --hf DIR`: a directory `transformers.AutoModelForCausalLM.from_pretrained(DIR)`
//! (a `GPT2LMHeadModel` or a `LlamaForCausalLM`) and `tokenizers.Tokenizer.from_file(DIR/tokenizer.json)`
//! load with no conversion (architecture and model type from the family's `ladder_model::ArchSpec`):
//! - `config.json`: for GPT-2 `model_type` gpt2, `activation_function` gelu_new = the tanh GELU of
//!   DESIGN §2, all dropouts 0, `n_inner` null = 4·n_embd, tied embeddings; for Llama
//!   `model_type` llama with `hidden_act` silu, `intermediate_size`, `rms_norm_eps`, `rope_theta`,
//!   `num_key_value_heads` = heads, no biases, `tie_word_embeddings` as trained;
//! - `model.safetensors`: the checkpoint's file as is (it already uses HF names and layouts and the
//!   real vocabulary: Llama's q/k/v and gate/up are stored as HF's separate tensors, the model only
//!   reads them as one matrix; a tied head has no `lm_head.weight`);
//! - `tokenizer.json`: the data directory's tokenizer.

use std::path::{Path, PathBuf};

use ladder_model::Arch;
use serde_json::json;

use crate::checkpoint::MODEL_FILE;
use crate::error::{io, Result};
use crate::fsutil::{write_atomic, write_json_atomic};
use crate::run::LoadedRun;

/// The token HF GPT-2 uses for both bos and eos; recorded when the tokenizer has it.
pub const END_OF_TEXT: &str = "<|endoftext|>";

/// The paths `export_hf` wrote.
#[derive(Clone, Debug)]
pub struct Exported {
    /// `config.json`.
    pub config: PathBuf,
    /// `model.safetensors`.
    pub model: PathBuf,
    /// `tokenizer.json`.
    pub tokenizer: PathBuf,
}

/// Hugging Face `config.json` contents for a run's model; `eos` is the id of `<|endoftext|>`.
pub fn hf_config(run: &LoadedRun, eos: Option<u32>) -> serde_json::Value {
    let m = &run.model_cfg;
    let mut v = match m.arch {
        Arch::Gpt2 => gpt2_config(m),
        Arch::Llama => llama_config(m),
    };
    v["ladder"] = json!({
        "step": run.state.step,
        "tokens": run.state.tokens,
    });
    if let Some(id) = eos {
        v["bos_token_id"] = json!(id);
        v["eos_token_id"] = json!(id);
    }
    v
}

/// `LlamaConfig` keys (transformers' names); attention runs in f32 with no dropout.
fn llama_config(m: &ladder_model::ModelConfig) -> serde_json::Value {
    let spec = m.spec();
    json!({
        "architectures": [spec.hf_architecture],
        "model_type": spec.hf_model_type,
        "vocab_size": m.vocab_size,
        "hidden_size": m.n_embd,
        "intermediate_size": m.ffn_width(),
        "num_hidden_layers": m.n_layer,
        "num_attention_heads": m.n_head,
        "num_key_value_heads": m.n_head,
        "head_dim": m.head_size(),
        "hidden_act": "silu",
        "max_position_embeddings": m.block_size,
        "rms_norm_eps": m.norm_eps(),
        "rope_theta": m.rope_theta(),
        "rope_scaling": null,
        "attention_bias": false,
        "attention_dropout": 0.0,
        "mlp_bias": false,
        "pretraining_tp": 1,
        "initializer_range": 0.02,
        "use_cache": true,
        "tie_word_embeddings": m.tie_embeddings(),
        "torch_dtype": "float32",
    })
}

/// `GPT2Config` keys.
fn gpt2_config(m: &ladder_model::ModelConfig) -> serde_json::Value {
    let spec = m.spec();
    // `n_inner` null means HF's default 4·n_embd; an explicit width is written out.
    let n_inner = m.ffn_width.filter(|&f| f != 4 * m.n_embd);
    json!({
        "architectures": [spec.hf_architecture],
        "model_type": spec.hf_model_type,
        "vocab_size": m.vocab_size,
        "n_positions": m.block_size,
        "n_ctx": m.block_size,
        "n_embd": m.n_embd,
        "n_layer": m.n_layer,
        "n_head": m.n_head,
        "n_inner": n_inner,
        "activation_function": "gelu_new",
        "resid_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "attn_pdrop": 0.0,
        "summary_first_dropout": 0.0,
        "layer_norm_epsilon": 1e-5,
        "initializer_range": 0.02,
        "scale_attn_weights": true,
        "scale_attn_by_inverse_layer_idx": false,
        "reorder_and_upcast_attn": false,
        "use_cache": true,
        "tie_word_embeddings": true,
        "torch_dtype": "float32",
    })
}

/// Writes the three files into `out` (created if missing; existing files of those names are
/// replaced). `data` overrides the run's data dir (for the tokenizer).
pub fn export_hf(run_dir: &Path, out: &Path, data: Option<&Path>) -> Result<Exported> {
    let run = LoadedRun::open(run_dir)?;
    let data_dir = run.data_dir(data)?;
    let tok = ladder_data::load_tokenizer(&data_dir)?;
    let eos = tok.token_to_id(END_OF_TEXT);
    std::fs::create_dir_all(out).map_err(io(out))?;

    let files = Exported {
        config: out.join("config.json"),
        model: out.join("model.safetensors"),
        tokenizer: out.join("tokenizer.json"),
    };
    write_json_atomic(&files.config, &hf_config(&run, eos))?;
    // LoadedRun::open verified this file's sha256 and parsed every tensor.
    let src = run.checkpoint.join(MODEL_FILE);
    let model = std::fs::read(&src).map_err(io(&src))?;
    write_atomic(&files.model, &model)?;
    let src = data_dir.join("tokenizer.json");
    let tokenizer = std::fs::read(&src).map_err(io(&src))?;
    write_atomic(&files.tokenizer, &tokenizer)?;
    Ok(files)
}
