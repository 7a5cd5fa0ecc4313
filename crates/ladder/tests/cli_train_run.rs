//! End-to-end tests of the commands that read a finished run: `ladder eval`, `sample`,
//! `export --hf` and `debug grads`, on one tiny run trained once for the file.

mod cli_train_util;

use std::path::Path;

use cli_train_util::*;
use serde_json::Value;

#[test]
fn eval_reproduces_the_final_val_loss_of_the_summary() {
    let run = tiny_run();
    let sum = json(&run.join("summary.json"));
    let out = ok(&["eval", "--run", s(run), "--json"]);
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        r["val_loss"], sum["final_val_loss"],
        "same batches, same threads: same bits"
    );
    assert_eq!(r["val_bpb"], sum["final_val_bpb"]);
    assert_eq!(r["tokens"], 4096);
    let text = ok(&["eval", "--run", s(run)]);
    assert!(
        text.contains("val_loss ") && text.contains("nats/token"),
        "{text}"
    );
    assert!(
        text.contains("val_bpb ") && text.contains("bits/byte"),
        "{text}"
    );
    let err = fails(&["eval", "--run", s(&fresh("no-such-run"))]);
    assert!(err.contains("config.toml"), "{err}");
}

#[test]
fn final_eval_covers_the_whole_split_with_a_standard_error() {
    // The default eval.final_tokens = 0: the final evaluation takes every whole batch of the
    // 32768-token val split (511 windows of 64 → 127 batches of 4), mid-training ones eval.tokens.
    let run = fresh("whole-split");
    let sets = [
        "train.steps=20",
        "train.warmup_steps=5",
        "eval.every=10",
        "eval.tokens=4096",
        "train.threads=2",
    ];
    ok(&train_args(synth(), &run, &sets, &["--quiet", PEAK]));
    let sum = json(&run.join("summary.json"));
    assert_eq!(sum["final_val_tokens"], 127 * 256);
    let se = sum["final_val_loss_se"].as_f64().unwrap();
    assert!(se > 0.0 && se < 0.1, "{se}");
    let m = metrics(&run);
    assert_eq!(m[9]["val_tokens"], 4096, "mid-training: eval.tokens");
    assert!(m[9]["val_loss_se"].as_f64().unwrap() > 0.0);
    assert_eq!(m[19]["val_loss"], sum["final_val_loss"]);
    assert_eq!(m[19]["val_loss_se"], sum["final_val_loss_se"]);

    // `ladder eval` defaults to the same whole-split evaluation: same loss and SE, same bits.
    let r: Value = serde_json::from_str(ok(&["eval", "--run", s(&run), "--json"]).trim()).unwrap();
    assert_eq!(r["val_loss"], sum["final_val_loss"]);
    assert_eq!(r["val_loss_se"], sum["final_val_loss_se"]);
    assert_eq!(r["tokens"], 127 * 256);
    assert_eq!(r["se_blocks"], 32);
    let text = ok(&["eval", "--run", s(&run)]);
    let want = format!(
        "val_loss {:.4} ± {se:.4} nats/token (SE over 32 blocks)",
        sum["final_val_loss"].as_f64().unwrap()
    );
    assert!(text.contains(&want), "{text}\nwant: {want}");
    // --tokens sizes it down: 16 batches, one block each.
    let r: Value =
        serde_json::from_str(ok(&["eval", "--run", s(&run), "--tokens", "4096", "--json"]).trim())
            .unwrap();
    assert_eq!(
        (r["tokens"].as_u64(), r["se_blocks"].as_u64()),
        (Some(4096), Some(16))
    );
}

#[test]
fn sample_is_deterministic_per_seed() {
    let run = tiny_run();
    let go = |seed: &str| {
        ok(&[
            "sample",
            "--run",
            s(run),
            "--prompt",
            "t1 t2",
            "--tokens",
            "40",
            "--seed",
            seed,
        ])
    };
    let a = go("1");
    assert_eq!(a, go("1"));
    assert_ne!(a, go("2"), "different seeds should (almost surely) differ");
    assert!(a.starts_with("t1 t2 t"), "{a}");
    // Greedy decoding ignores the seed; 100 tokens > block_size 64 slides the context.
    let greedy = |seed: &str| {
        ok(&[
            "sample",
            "--run",
            s(run),
            "--prompt",
            "t1",
            "--tokens",
            "100",
            "--temperature",
            "0",
            "--seed",
            seed,
        ])
    };
    let g = greedy("1");
    assert_eq!(g, greedy("9"));
    assert_eq!(g.split_whitespace().count(), 101, "{g}");
    let long = vec!["t1"; 200].join(" ");
    let err = fails(&["sample", "--run", s(run), "--prompt", &long]);
    assert!(
        err.contains("64 positions") && err.contains("shorten the prompt"),
        "{err}"
    );
}

#[test]
fn sample_without_a_prompt_starts_from_the_end_of_text_token() {
    let run = tiny_run();
    let base = ["sample", "--run", s(run), "--tokens", "30", "--seed", "3"];
    let none = ok(&base);
    let empty = ok(&[&base[..], &["--prompt", ""]].concat());
    // No prompt and an empty prompt are the same request, and deterministic.
    assert_eq!(none, empty);
    assert_eq!(none, ok(&base));
    // The primer <|endoftext|> is not echoed: the text is the generation alone, so printing
    // it with or without --no-prompt is the same.
    assert_eq!(none, ok(&[&base[..], &["--no-prompt"]].concat()));
    assert!(!none.starts_with("<|endoftext|>"), "{none}");
    // The tiny synthetic data's words are t1, t2, ...: the model learned to write them.
    assert!(
        none.split_whitespace().any(|w| w.starts_with('t')),
        "{none}"
    );
    // It is exactly the generation primed with the token <|endoftext|> (id 0) written out.
    let primed = ok(&[&base[..], &["--prompt", "<|endoftext|>", "--no-prompt"]].concat());
    assert_eq!(none, primed);
}

/// The JSON header of a safetensors file: name → {dtype, shape, data_offsets}.
fn safetensors_header(path: &Path) -> serde_json::Map<String, Value> {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let v: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    v.as_object().unwrap().clone()
}

fn shape(h: &serde_json::Map<String, Value>, name: &str) -> Vec<u64> {
    let t = h.get(name).unwrap_or_else(|| panic!("{name} missing"));
    assert_eq!(t["dtype"], "F32", "{name}");
    t["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

#[test]
fn export_writes_a_hugging_face_gpt2_directory() {
    let run = tiny_run();
    let out = fresh("hf");
    ok(&["export", "--run", s(run), "--hf", s(&out)]);
    let cfg = json(&out.join("config.json"));
    let v = vocab(synth());
    assert_eq!(cfg["model_type"], "gpt2");
    assert_eq!(cfg["architectures"][0], "GPT2LMHeadModel");
    assert_eq!(cfg["vocab_size"], v);
    for (k, want) in [
        ("n_positions", 64),
        ("n_embd", 64),
        ("n_layer", 2),
        ("n_head", 2),
    ] {
        assert_eq!(cfg[k], want, "{k}");
    }
    assert!(cfg["n_inner"].is_null());
    assert_eq!(cfg["activation_function"], "gelu_new");
    assert_eq!(cfg["layer_norm_epsilon"], 1e-5);
    assert_eq!(cfg["tie_word_embeddings"], true);
    for k in ["resid_pdrop", "embd_pdrop", "attn_pdrop"] {
        assert_eq!(cfg[k], 0.0, "{k}");
    }
    assert_eq!(
        cfg["eos_token_id"], 0,
        "the synthetic tokenizer's <|endoftext|> is id 0"
    );
    assert_eq!(cfg["bos_token_id"], 0);
    let h = safetensors_header(&out.join("model.safetensors"));
    assert_eq!(h["__metadata__"]["format"], "pt");
    assert_eq!(shape(&h, "transformer.wte.weight"), [v, 64]);
    assert_eq!(shape(&h, "transformer.h.1.mlp.c_fc.weight"), [64, 256]);
    assert!(
        !h.contains_key("lm_head.weight"),
        "tied: HF re-creates it from wte"
    );
    let tok = std::fs::read(out.join("tokenizer.json")).unwrap();
    assert_eq!(tok, std::fs::read(synth().join("tokenizer.json")).unwrap());
}

#[test]
fn debug_grads_writes_loss_logits_and_every_gradient() {
    let run = tiny_run();
    let v = vocab(synth());
    let (b, t) = (2u32, 16u32);
    let toks: Vec<u8> = (0..b * (t + 1))
        .flat_map(|i| ((i * 7919) % v as u32).to_le_bytes())
        .collect();
    let tf = fresh("toks.u32");
    std::fs::write(&tf, &toks).unwrap();
    let out = fresh("grads.safetensors");
    let args = [
        "debug",
        "grads",
        "--run",
        s(run),
        "--tokens",
        s(&tf),
        "--batch",
        "2",
        "--seq",
        "16",
        "--out",
        s(&out),
    ];
    ok(&args);
    let h = safetensors_header(&out);
    assert_eq!(shape(&h, "loss"), [1]);
    assert_eq!(shape(&h, "logits"), [2, 16, v]);
    assert_eq!(shape(&h, "transformer.wte.weight"), [v, 64]);
    assert_eq!(shape(&h, "transformer.wpe.weight"), [64, 64]);
    for l in 0..2 {
        let p = format!("transformer.h.{l}");
        assert_eq!(shape(&h, &format!("{p}.ln_1.weight")), [64]);
        assert_eq!(shape(&h, &format!("{p}.attn.c_attn.weight")), [64, 192]);
        assert_eq!(shape(&h, &format!("{p}.attn.c_attn.bias")), [192]);
        assert_eq!(shape(&h, &format!("{p}.attn.c_proj.weight")), [64, 64]);
        assert_eq!(shape(&h, &format!("{p}.mlp.c_fc.weight")), [64, 256]);
        assert_eq!(shape(&h, &format!("{p}.mlp.c_proj.weight")), [256, 64]);
        assert_eq!(shape(&h, &format!("{p}.ln_2.bias")), [64]);
    }
    assert_eq!(shape(&h, "transformer.ln_f.weight"), [64]);
    // __metadata__, loss, logits, and 2 + 12·L + 2 parameters
    assert_eq!(h.len(), 1 + 2 + 2 + 12 * 2 + 2);
    // A file of the wrong size is refused, naming the expected size: 2·17 u32 = 136 bytes.
    std::fs::write(&tf, &toks[..toks.len() - 4]).unwrap();
    let err = fails(&args);
    assert!(err.contains("expected 136"), "{err}");
}
