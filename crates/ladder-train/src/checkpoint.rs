//! Checkpoints (DESIGN §3): `RUN/checkpoints/step_NNNNNNN/` holding
//! - `model.safetensors`: every parameter under its Hugging Face GPT-2 name and layout, the
//!   embedding cut to the real vocabulary, so `transformers` loads it as-is;
//! - `optimizer.safetensors`: AdamW's `m` and `v`, flat in the model's parameter layout (padding
//!   rows included, so a resume is bitwise);
//! - `state.json`: step, tokens, data position, seed, AdamW step count, the config's sha256 and the
//!   sha256 of both files. No timestamps: two identical runs write identical bytes.
//!
//! A checkpoint is written into `checkpoints/.tmp-step_NNNNNNN/`, every file fsynced, the directory
//! renamed into place and fsynced, and only then `checkpoints/LATEST` (the directory's name) is
//! replaced atomically. A crash at any point leaves LATEST naming a complete checkpoint.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use ladder_model::{ModelConfig, ParamLayout};
use safetensors::tensor::{Dtype, SafeTensors, View};
use serde::{Deserialize, Serialize};

use crate::error::{io, Error, Result};
use crate::fsutil::{read_json, sha256_hex, sync_dir, write_atomic, write_synced};
use crate::health::HealthHistory;

/// `state.json`'s `format` field.
pub const STATE_FORMAT: &str = "ladder-checkpoint";
/// `state.json`'s `version` field; bump on any incompatible change.
pub const STATE_VERSION: u32 = 1;
/// The model file's name inside a checkpoint (and in an HF export).
pub const MODEL_FILE: &str = "model.safetensors";
/// The optimizer file's name inside a checkpoint.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// The state file's name inside a checkpoint.
pub const STATE_FILE: &str = "state.json";

/// `state.json`: what a resume needs besides the two tensor files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointState {
    /// Always [`STATE_FORMAT`].
    pub format: String,
    /// Always [`STATE_VERSION`].
    pub version: u32,
    /// Optimizer steps completed.
    pub step: u64,
    /// Training tokens consumed.
    pub tokens: u64,
    /// Data-loader position: the global index of the next training sequence
    /// (`step · grad_accum · batch_size`). The sampler is a pure function of (seed, index), so this
    /// and `seed` are the whole data RNG state.
    pub next_sequence: u64,
    /// `train.seed`: seeds the initialisation and the data order. The loop itself draws no random
    /// numbers (no dropout), so there is no other RNG state.
    pub seed: u64,
    /// AdamW's step count `t` (bias correction).
    pub adam_t: u64,
    /// sha256 of the run's resolved `config.toml` text.
    pub config_sha256: String,
    /// sha256 of each tensor file, by file name.
    pub files: BTreeMap<String, String>,
    /// Training sequences skipped by health rollbacks so far (included in `next_sequence`): the
    /// data position is `step · grad_accum · batch_size + skipped_sequences`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped_sequences: u64,
    /// The health monitor's window of recent losses and gradient norms.
    #[serde(default, skip_serializing_if = "HealthHistory::is_empty")]
    pub health: HealthHistory,
    /// The CPU that wrote the checkpoint: a resume is bitwise only on a CPU with the same
    /// features (absent in checkpoints of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuFeatures>,
    /// With `--sdc-check-every`: the parameters' checksum ([`crate::sdc::checksum`]) and how many
    /// ranks agreed on it when the checkpoint was written (absent without the check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdc: Option<SdcRecord>,
}

/// `state.json`'s `sdc`: the checksum every rank had for the checkpoint's parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdcRecord {
    /// [`crate::sdc::checksum`] of the parameters, 16 hex digits.
    pub checksum: String,
    /// The ranks that had it: all of the job's (1 for one process).
    pub ranks: usize,
}

/// The CPU features the GEMM kernels are chosen by at run time. The same run on CPUs that differ
/// here uses different kernels (another summation order), so its numbers agree to rounding, not
/// to the bit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuFeatures {
    /// `std::env::consts::ARCH` (`x86_64`, `aarch64`, ...).
    pub arch: String,
    /// The detected features among those the kernels dispatch on (x86: `avx`, `avx2`, `fma`,
    /// `avx512f`; aarch64: `neon`, `fp16`), in that order.
    pub features: Vec<String>,
}

impl CpuFeatures {
    /// This machine's.
    pub fn detect() -> CpuFeatures {
        #[allow(unused_mut)]
        let mut features: Vec<String> = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            let found = [
                ("avx", std::is_x86_feature_detected!("avx")),
                ("avx2", std::is_x86_feature_detected!("avx2")),
                ("fma", std::is_x86_feature_detected!("fma")),
                ("avx512f", std::is_x86_feature_detected!("avx512f")),
            ];
            features.extend(found.iter().filter(|f| f.1).map(|f| f.0.to_owned()));
        }
        #[cfg(target_arch = "aarch64")]
        {
            let found = [
                ("neon", std::arch::is_aarch64_feature_detected!("neon")),
                ("fp16", std::arch::is_aarch64_feature_detected!("fp16")),
            ];
            features.extend(found.iter().filter(|f| f.1).map(|f| f.0.to_owned()));
        }
        CpuFeatures {
            arch: std::env::consts::ARCH.to_owned(),
            features,
        }
    }

    /// `arch [f1 f2 ...]`, for messages.
    pub fn describe(&self) -> String {
        format!("{} [{}]", self.arch, self.features.join(" "))
    }
}

fn is_zero(x: &u64) -> bool {
    *x == 0
}

/// An `f32` tensor borrowed for serialisation.
struct F32View<'a> {
    shape: Vec<usize>,
    data: &'a [f32],
}

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.data.iter().flat_map(|x| x.to_le_bytes()).collect())
    }
    fn data_len(&self) -> usize {
        self.data.len() * 4
    }
}

/// Serialises named f32 tensors to safetensors bytes. `format` goes in the header's
/// `__metadata__` (`"pt"` is what `transformers` expects). Deterministic: tensors are sorted by name.
pub fn safetensors_bytes(
    tensors: &[(String, Vec<usize>, &[f32])],
    format: &str,
) -> Result<Vec<u8>> {
    let views = tensors.iter().map(|(name, shape, data)| {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len(), "{name}");
        (
            name.clone(),
            F32View {
                shape: shape.clone(),
                data,
            },
        )
    });
    // One metadata key only: the header serialises this map, and a map of one is always in order.
    let meta = HashMap::from([("format".to_owned(), format.to_owned())]);
    safetensors::serialize(views, Some(meta)).map_err(|source| Error::Safetensors {
        path: PathBuf::from("<memory>"),
        source,
    })
}

/// The model's tensors under their HF names, wte cut to the real vocabulary.
pub fn model_tensors<'a>(
    layout: &ParamLayout,
    params: &'a [f32],
) -> Vec<(String, Vec<usize>, &'a [f32])> {
    layout
        .tensors
        .iter()
        .map(|t| (t.name.clone(), t.shape.clone(), &params[t.range()]))
        .collect()
}

/// `model.safetensors` bytes for `params`.
pub fn model_bytes(layout: &ParamLayout, params: &[f32]) -> Result<Vec<u8>> {
    safetensors_bytes(&model_tensors(layout, params), "pt")
}

/// Reads an f32 tensor's data from a view, checking dtype and shape.
fn read_f32(st: &SafeTensors<'_>, name: &str, shape: &[usize], path: &Path) -> Result<Vec<f32>> {
    let bad = |detail: String| Error::BadCheckpoint {
        path: path.to_path_buf(),
        detail,
    };
    let view = st
        .tensor(name)
        .map_err(|_| bad(format!("tensor `{name}` is missing")))?;
    if view.dtype() != Dtype::F32 {
        return Err(bad(format!(
            "tensor `{name}` is {:?}, expected F32",
            view.dtype()
        )));
    }
    if view.shape() != shape {
        return Err(bad(format!(
            "tensor `{name}` has shape {:?}, expected {shape:?} (does the run's config match?)",
            view.shape()
        )));
    }
    Ok(view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

fn parse_safetensors<'a>(bytes: &'a [u8], path: &Path) -> Result<SafeTensors<'a>> {
    SafeTensors::deserialize(bytes).map_err(|source| Error::Safetensors {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads a `model.safetensors` (ladder's or an HF GPT-2 one of the same shape) into a flat
/// parameter buffer in `layout` (padding rows zero). Strict: a missing, extra or misshapen tensor
/// is an error (`lm_head.weight` is accepted and ignored when equal to the tied embedding).
pub fn load_model(path: &Path, cfg: &ModelConfig, layout: &ParamLayout) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let st = parse_safetensors(&bytes, path)?;
    let mut params = vec![0.0f32; layout.len];
    for t in &layout.tensors {
        let data = read_f32(&st, &t.name, &t.shape, path)?;
        params[t.range()].copy_from_slice(&data);
    }
    for name in st.names() {
        if layout.get(name).is_some() {
            continue;
        }
        if name == "lm_head.weight" {
            let head = read_f32(&st, name, &[cfg.vocab_size, cfg.n_embd], path)?;
            let wte = &layout.tensors[0];
            if head[..] == params[wte.range()] {
                continue;
            }
        }
        return Err(Error::BadCheckpoint {
            path: path.to_path_buf(),
            detail: format!("unexpected tensor `{name}` (not part of this model's layout)"),
        });
    }
    Ok(params)
}

/// Writes a checkpoint of `step` into `run_dir/checkpoints/` (see the module docs for the
/// protocol), updates `LATEST`, and prunes all but the newest `keep`. Returns its directory.
pub fn save(
    run_dir: &Path,
    layout: &ParamLayout,
    params: &[f32],
    adam: &ladder_model::AdamW,
    state: CheckpointState,
    keep: usize,
) -> Result<PathBuf> {
    save_with(run_dir, layout, params, adam, &[], state, keep, &mut |_| {})
}

/// [`save`] with `extra` flat tensors in `optimizer.safetensors` beside `m` and `v` (state the
/// trainer must carry across a resume), and `midway`, called with the temp directory once the
/// tensor files are in it and before `state.json` (fault injection kills the process there).
#[allow(clippy::too_many_arguments)]
pub fn save_with(
    run_dir: &Path,
    layout: &ParamLayout,
    params: &[f32],
    adam: &ladder_model::AdamW,
    extra: &[(&str, &[f32])],
    mut state: CheckpointState,
    keep: usize,
    midway: &mut dyn FnMut(&Path),
) -> Result<PathBuf> {
    let root = run_dir.join("checkpoints");
    std::fs::create_dir_all(&root).map_err(io(&root))?;
    let name = format!("step_{:07}", state.step);
    let tmp = root.join(format!(".tmp-{name}"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir(&tmp).map_err(io(&tmp))?;

    let model = model_bytes(layout, params)?;
    let mut optim_tensors = vec![
        ("m".to_owned(), vec![adam.m.len()], &adam.m[..]),
        ("v".to_owned(), vec![adam.v.len()], &adam.v[..]),
    ];
    for (name, data) in extra {
        optim_tensors.push((name.to_string(), vec![data.len()], data));
    }
    let optim = safetensors_bytes(&optim_tensors, "ladder-adamw")?;
    state.files = BTreeMap::from([
        (MODEL_FILE.to_owned(), sha256_hex(&model)),
        (OPTIMIZER_FILE.to_owned(), sha256_hex(&optim)),
    ]);
    write_synced(&tmp.join(MODEL_FILE), &model)?;
    write_synced(&tmp.join(OPTIMIZER_FILE), &optim)?;
    midway(&tmp);
    let mut text = serde_json::to_string_pretty(&state).map_err(|source| Error::Json {
        path: tmp.join(STATE_FILE),
        source,
    })?;
    text.push('\n');
    write_synced(&tmp.join(STATE_FILE), text.as_bytes())?;
    sync_dir(&tmp)?;

    let dir = root.join(&name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    std::fs::rename(&tmp, &dir).map_err(io(&dir))?;
    sync_dir(&root)?;
    write_atomic(&root.join("LATEST"), format!("{name}\n").as_bytes())?;
    prune(&root, keep)?;
    Ok(dir)
}

/// Removes all but the newest `keep` `step_*` directories (never the one LATEST names).
fn prune(root: &Path, keep: usize) -> Result<()> {
    let mut steps: Vec<String> = std::fs::read_dir(root)
        .map_err(io(root))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("step_"))
        .collect();
    steps.sort();
    let n = steps.len().saturating_sub(keep.max(1));
    for name in &steps[..n] {
        let p = root.join(name);
        std::fs::remove_dir_all(&p).map_err(io(&p))?;
    }
    Ok(())
}

/// The directory of the newest complete checkpoint of a run (from `checkpoints/LATEST`).
pub fn latest(run_dir: &Path) -> Result<PathBuf> {
    let p = run_dir.join("checkpoints").join("LATEST");
    let name = match std::fs::read_to_string(&p) {
        Ok(s) => s.trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoCheckpoint {
                path: run_dir.to_path_buf(),
            })
        }
        Err(e) => return Err(Error::Io { path: p, source: e }),
    };
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(Error::BadCheckpoint {
            path: p,
            detail: format!("names {name:?}, not a checkpoint directory"),
        });
    }
    Ok(run_dir.join("checkpoints").join(name))
}

/// Reads a checkpoint's `state.json` and checks its format, version and both files' sha256.
pub fn load_state(dir: &Path) -> Result<CheckpointState> {
    let path = dir.join(STATE_FILE);
    let state: CheckpointState = read_json(&path)?;
    if state.format != STATE_FORMAT || state.version != STATE_VERSION {
        return Err(Error::BadCheckpoint {
            path,
            detail: format!(
                "format {:?} version {} is not {STATE_FORMAT:?} version {STATE_VERSION}",
                state.format, state.version
            ),
        });
    }
    for (file, want) in &state.files {
        let p = dir.join(file);
        let bytes = std::fs::read(&p).map_err(io(&p))?;
        let found = sha256_hex(&bytes);
        if &found != want {
            return Err(Error::ChecksumMismatch {
                path: p,
                expected: want.clone(),
                found,
            });
        }
    }
    Ok(state)
}

/// Reads AdamW's `m` and `v` from an `optimizer.safetensors` written for `layout`.
pub fn load_optimizer(path: &Path, layout: &ParamLayout) -> Result<(Vec<f32>, Vec<f32>)> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let st = parse_safetensors(&bytes, path)?;
    Ok((
        read_f32(&st, "m", &[layout.len], path)?,
        read_f32(&st, "v", &[layout.len], path)?,
    ))
}

/// Reads the extra flat tensor `name` of an `optimizer.safetensors` (see [`save_with`]), if present.
pub fn load_extra(path: &Path, name: &str, len: usize) -> Result<Option<Vec<f32>>> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let st = parse_safetensors(&bytes, path)?;
    if st.tensor(name).is_err() {
        return Ok(None);
    }
    read_f32(&st, name, &[len], path).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ModelConfig {
        ModelConfig {
            n_layer: 1,
            n_embd: 8,
            n_head: 2,
            block_size: 4,
            vocab_size: 37,
            ..ModelConfig::default()
        }
    }

    fn state(step: u64) -> CheckpointState {
        CheckpointState {
            format: STATE_FORMAT.into(),
            version: STATE_VERSION,
            step,
            tokens: step * 10,
            next_sequence: step * 2,
            seed: 0,
            adam_t: step,
            config_sha256: "x".into(),
            files: BTreeMap::new(),
            skipped_sequences: 0,
            health: HealthHistory::default(),
            cpu: Some(CpuFeatures::detect()),
            sdc: None,
        }
    }

    #[test]
    fn state_without_cpu_features_still_loads() {
        let mut v = serde_json::to_value(state(3)).unwrap();
        v.as_object_mut().unwrap().remove("cpu");
        let old: CheckpointState = serde_json::from_value(v).unwrap();
        assert_eq!(old.cpu, None);
        let here = CpuFeatures::detect();
        assert_eq!(here.arch, std::env::consts::ARCH);
        assert!(here.describe().starts_with(std::env::consts::ARCH));
    }

    #[test]
    fn checkpoint_round_trips_and_prunes() {
        let d = tempfile::tempdir().unwrap();
        let cfg = cfg();
        let layout = ParamLayout::new(&cfg);
        let params = ladder_model::init_params(&cfg, 3);
        let mut adam = ladder_model::AdamW::new(&layout);
        adam.m
            .iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x = i as f32);
        for step in 1..=4 {
            save(d.path(), &layout, &params, &adam, state(step), 2).unwrap();
        }
        let dir = latest(d.path()).unwrap();
        assert!(dir.ends_with("step_0000004"));
        let mut names: Vec<_> = std::fs::read_dir(d.path().join("checkpoints"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["LATEST", "step_0000003", "step_0000004"]);
        let st = load_state(&dir).unwrap();
        assert_eq!(st.step, 4);
        let back = load_model(&dir.join(MODEL_FILE), &cfg, &layout).unwrap();
        assert_eq!(back, params);
        let (m, v) = load_optimizer(&dir.join(OPTIMIZER_FILE), &layout).unwrap();
        assert_eq!((m, v), (adam.m.clone(), adam.v.clone()));
        // corrupt a file: the recorded sha256 catches it
        std::fs::write(dir.join(MODEL_FILE), b"garbage").unwrap();
        assert!(matches!(
            load_state(&dir),
            Err(Error::ChecksumMismatch { .. })
        ));
    }

    #[test]
    fn model_file_holds_real_vocab_rows_under_hf_names() {
        let cfg = cfg();
        let layout = ParamLayout::new(&cfg);
        let params = ladder_model::init_params(&cfg, 0);
        let bytes = model_bytes(&layout, &params).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(
            st.tensor("transformer.wte.weight").unwrap().shape(),
            &[37, 8]
        );
        assert_eq!(
            st.tensor("transformer.h.0.attn.c_attn.weight")
                .unwrap()
                .shape(),
            &[8, 24]
        );
        assert_eq!(st.names().len(), layout.tensors.len());
        assert_eq!(
            bytes,
            model_bytes(&layout, &params).unwrap(),
            "deterministic bytes"
        );
    }

    #[test]
    fn latest_missing_is_a_clear_error() {
        let d = tempfile::tempdir().unwrap();
        let e = latest(d.path()).unwrap_err();
        assert!(e.to_string().contains("no checkpoint"), "{e}");
    }
}
