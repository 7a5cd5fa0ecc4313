//! `ladder export --hf DIR`: a directory `transformers.GPT2LMHeadModel.from_pretrained(DIR)` and
//! `tokenizers.Tokenizer.from_file(DIR/tokenizer.json)` load with no conversion (architecture
//! and model type from the family's `ladder_model::ArchSpec`; the config keys below are GPT-2's,
//! the only family so far):
//! - `config.json`: a GPT-2 config (`model_type` gpt2, `activation_function` gelu_new = the tanh
//!   GELU of DESIGN §2, all dropouts 0, `n_inner` null = 4·n_embd, tied embeddings);
//! - `model.safetensors`: the checkpoint's file as is (it already uses HF names and layouts and the
//!   real vocabulary; `lm_head.weight` is absent because it is tied to `transformer.wte.weight`);
//! - `tokenizer.json`: the data directory's tokenizer.

use std::path::{Path, PathBuf};

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
    let spec = m.spec();
    // `n_inner` null means HF's default 4·n_embd; an explicit width is written out.
    let n_inner = m.ffn_width.filter(|&f| f != 4 * m.n_embd);
    let mut v = json!({
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
        "ladder": {
            "step": run.state.step,
            "tokens": run.state.tokens,
        },
    });
    if let Some(id) = eos {
        v["bos_token_id"] = json!(id);
        v["eos_token_id"] = json!(id);
    }
    v
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
