//! End-to-end: `model.arch = "llama"` from the CLI: train a tiny untied run, export it as a
//! Hugging Face `LlamaForCausalLM` directory, dump gradients under the HF names, sample from it,
//! and refuse bad Llama keys with messages naming the value. (Numerical agreement with
//! transformers: `crates/ladder-model/tests/llama_golden.rs` and `reference/hf_check.py --arch llama`.)

mod cli_train_util;

use std::path::Path;

use cli_train_util::*;
use serde_json::Value;

fn header(path: &Path) -> serde_json::Map<String, Value> {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let v: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    v.as_object().unwrap().clone()
}

fn shape(h: &serde_json::Map<String, Value>, name: &str) -> Vec<u64> {
    let t = h.get(name).unwrap_or_else(|| panic!("{name} missing"));
    t["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

#[test]
fn llama_trains_exports_dumps_grads_and_samples() {
    let run = fresh("llama-run");
    let sets = [
        "model.arch=llama",
        "model.tie_embeddings=false",
        "model.rope_theta=500",
        "train.steps=4",
        "eval.every=0",
        "train.threads=2",
    ];
    ok(&train_args(synth(), &run, &sets, &["--quiet"]));
    // The resolved config records every Llama key, defaults included.
    let toml = std::fs::read_to_string(run.join("config.toml")).unwrap();
    for line in [
        "arch = \"llama\"",
        "ffn_width = 176",
        "rope_theta = 500.0",
        "norm_eps = ",
        "tie_embeddings = false",
    ] {
        assert!(toml.contains(line), "{line} missing from\n{toml}");
    }

    let out = fresh("llama-hf");
    ok(&["export", "--run", s(&run), "--hf", s(&out)]);
    let cfg = json(&out.join("config.json"));
    let v = vocab(synth());
    assert_eq!(cfg["model_type"], "llama");
    assert_eq!(cfg["architectures"][0], "LlamaForCausalLM");
    for (k, want) in [
        ("hidden_size", 64),
        ("intermediate_size", 176),
        ("num_hidden_layers", 2),
        ("num_attention_heads", 2),
        ("num_key_value_heads", 2),
        ("max_position_embeddings", 64),
    ] {
        assert_eq!(cfg[k], want, "{k}");
    }
    assert_eq!(cfg["vocab_size"], v);
    assert_eq!(cfg["rope_theta"], 500.0);
    assert_eq!(cfg["hidden_act"], "silu");
    assert_eq!(cfg["tie_word_embeddings"], false);
    assert_eq!(cfg["attention_bias"], false);
    assert_eq!(cfg["mlp_bias"], false);
    assert!((cfg["rms_norm_eps"].as_f64().unwrap() - 1e-5).abs() < 1e-12);
    let h = header(&out.join("model.safetensors"));
    assert_eq!(shape(&h, "model.embed_tokens.weight"), [v, 64]);
    assert_eq!(shape(&h, "lm_head.weight"), [v, 64]);
    assert_eq!(
        shape(&h, "model.layers.1.self_attn.k_proj.weight"),
        [64, 64]
    );
    assert_eq!(shape(&h, "model.layers.1.mlp.gate_proj.weight"), [176, 64]);
    assert_eq!(shape(&h, "model.layers.1.mlp.down_proj.weight"), [64, 176]);
    assert_eq!(shape(&h, "model.norm.weight"), [64]);
    // __metadata__, embed, lm_head, 9 per block, final norm.
    assert_eq!(h.len(), 1 + 2 + 9 * 2 + 1);

    let toks: Vec<u8> = (0..2 * 17u32)
        .flat_map(|i| ((i * 7919) % v as u32).to_le_bytes())
        .collect();
    let tf = fresh("llama-toks.u32");
    std::fs::write(&tf, &toks).unwrap();
    let g = fresh("llama-grads.safetensors");
    ok(&[
        "debug",
        "grads",
        "--run",
        s(&run),
        "--tokens",
        s(&tf),
        "--batch",
        "2",
        "--seq",
        "16",
        "--out",
        s(&g),
    ]);
    let h = header(&g);
    assert_eq!(shape(&h, "logits"), [2, 16, v]);
    assert_eq!(
        shape(&h, "model.layers.0.self_attn.q_proj.weight"),
        [64, 64]
    );
    assert_eq!(shape(&h, "model.layers.0.mlp.up_proj.weight"), [176, 64]);
    assert_eq!(shape(&h, "lm_head.weight"), [v, 64]);
    assert_eq!(h.len(), 1 + 2 + 2 + 9 * 2 + 1);

    let a = ok(&["sample", "--run", s(&run), "--tokens", "20", "--seed", "1"]);
    let b = ok(&["sample", "--run", s(&run), "--tokens", "20", "--seed", "1"]);
    assert_eq!(a, b, "sampling is deterministic per seed");
}

#[test]
fn bad_llama_keys_are_refused_with_the_value() {
    let run = fresh("llama-bad");
    for (set, want) in [
        ("model.norm_eps=0", "norm_eps = 0"),
        ("model.rope_theta=-1", "rope_theta = -1"),
        ("model.ffn_width=0", "ffn_width must be > 0"),
        ("model.n_head=64", "must be even"),
    ] {
        let a = train_args(synth(), &run, &["model.arch=llama", set], &["--quiet"]);
        let e = fails(&a);
        assert!(e.contains(want), "{set}: {e}");
        assert!(!run.join("config.toml").exists(), "{set}: nothing written");
    }
    // GPT-2 refuses the Llama-only keys; a wrong type is named.
    let e = fails(&train_args(
        synth(),
        &run,
        &["model.tie_embeddings=false"],
        &[],
    ));
    assert!(e.contains("tie_embeddings = false"), "{e}");
    let e = fails(&train_args(synth(), &run, &["model.rope_theta=1e4"], &[]));
    assert!(e.contains("rope_theta"), "{e}");
    let e = fails(&train_args(synth(), &run, &["model.norm_eps=yes"], &[]));
    assert!(e.contains("model.norm_eps"), "{e}");
}
