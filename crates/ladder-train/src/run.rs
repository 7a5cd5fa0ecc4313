//! Opening a finished run directory (its `config.toml` and newest checkpoint), and `ladder eval`.

use std::path::{Path, PathBuf};

use ladder_data::Meta;
use ladder_model::{ModelConfig, ParamLayout, Workspace};

use crate::checkpoint::{self, CheckpointState};
use crate::comm::Comm;
use crate::config::Config;
use crate::error::{io, Error, Result};
use crate::eval::ValSet;
use crate::perf;

/// A run's resolved config and the parameters of its newest checkpoint.
pub struct LoadedRun {
    /// The run directory.
    pub dir: PathBuf,
    /// Its `config.toml`.
    pub config: Config,
    /// The model shape (vocabulary resolved).
    pub model_cfg: ModelConfig,
    /// The parameter layout.
    pub layout: ParamLayout,
    /// Flat parameters (padded vocabulary rows zero).
    pub params: Vec<f32>,
    /// The checkpoint directory they came from.
    pub checkpoint: PathBuf,
    /// Its `state.json`.
    pub state: CheckpointState,
}

impl LoadedRun {
    /// Reads `config.toml` and the checkpoint `checkpoints/LATEST` names, checking the files'
    /// sha256 and that the checkpoint was written under this config.
    pub fn open(run_dir: &Path) -> Result<LoadedRun> {
        let cfg_path = run_dir.join("config.toml");
        if !cfg_path.exists() {
            return Err(Error::BadCheckpoint {
                path: cfg_path,
                detail: "missing: is this a run directory written by `ladder train`?".into(),
            });
        }
        let config = Config::load(&cfg_path)?;
        let model_cfg = config.model_config();
        model_cfg.validate()?;
        let checkpoint = checkpoint::latest(run_dir)?;
        let state = checkpoint::load_state(&checkpoint)?;
        // A run written before a config key existed has the new key's default filled in on
        // load, so its hash differs from the checkpoint's; the file's own bytes still match.
        let file_hash =
            crate::fsutil::sha256_hex(&std::fs::read(&cfg_path).map_err(io(&cfg_path))?);
        if state.config_sha256 != config.hash() && state.config_sha256 != file_hash {
            return Err(Error::BadCheckpoint {
                path: cfg_path,
                detail: format!(
                    "differs from the config the checkpoint {} was trained with (sha256 {}); \
                     restore the run's original config.toml",
                    checkpoint.display(),
                    state.config_sha256
                ),
            });
        }
        let layout = ParamLayout::new(&model_cfg);
        let params = checkpoint::load_model(
            &checkpoint.join(checkpoint::MODEL_FILE),
            &model_cfg,
            &layout,
        )?;
        Ok(LoadedRun {
            dir: run_dir.to_path_buf(),
            config,
            model_cfg,
            layout,
            params,
            checkpoint,
            state,
        })
    }

    /// The data directory: `over` if given, else the one the run trained on.
    pub fn data_dir(&self, over: Option<&Path>) -> Result<PathBuf> {
        match over {
            Some(d) => Ok(d.to_path_buf()),
            None if !self.config.data.dir.is_empty() => Ok(PathBuf::from(&self.config.data.dir)),
            None => Err(Error::NoDataDir),
        }
    }
}

/// What `ladder eval` reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EvalReport {
    /// Optimizer steps of the evaluated checkpoint.
    pub step: u64,
    /// Mean validation cross-entropy (nats/token).
    pub val_loss: f32,
    /// Standard error of `val_loss` (batch means over `se_blocks` contiguous blocks of the
    /// evaluated windows; `None` with a single batch).
    pub val_loss_se: Option<f64>,
    /// Blocks behind `val_loss_se`.
    pub se_blocks: usize,
    /// Bits per byte of source text (`None` for data without byte counts).
    pub val_bpb: Option<f64>,
    /// Validation tokens evaluated.
    pub tokens: u64,
    /// The synthetic source's entropy, when the data has one.
    pub entropy_nats_per_token: Option<f64>,
}

/// Evaluates a run's newest checkpoint on `val.bin` with the same batches (B × T) and thread
/// count as the run's own final evaluation, `eval.final_tokens` of them (the whole split by
/// default), so the loss equals the run's `final_val_loss` bit for bit. `eval_tokens` overrides
/// the token count (`Some(0)` = the whole split).
pub fn evaluate_run(
    run_dir: &Path,
    data: Option<&Path>,
    eval_tokens: Option<usize>,
) -> Result<EvalReport> {
    let run = LoadedRun::open(run_dir)?;
    let data_dir = run.data_dir(data)?;
    let meta = Meta::load(&data_dir)?;
    if meta.vocab_size != run.model_cfg.vocab_size {
        return Err(Error::VocabMismatch {
            config: run.model_cfg.vocab_size,
            data: meta.vocab_size,
        });
    }
    let mut config = run.config.clone();
    if let Some(t) = eval_tokens {
        config.eval.final_tokens = t;
    }
    let pool = perf::thread_pool(config.train.threads)?;
    pool.install(|| {
        let val = ValSet::load(&data_dir, &meta, &config, config.eval.final_budget(), 0, 1)?;
        let mut ws = Workspace::new(
            &run.model_cfg,
            config.train.batch_size,
            config.train.seq_len,
        )?;
        let v = val.evaluate(&mut ws, &run.params, &Comm::single())?;
        Ok(EvalReport {
            step: run.state.step,
            val_loss: v.loss,
            val_loss_se: v.se,
            se_blocks: v.blocks,
            val_bpb: v.bpb,
            tokens: v.tokens.unwrap_or_default(),
            entropy_nats_per_token: val.entropy,
        })
    })
}
