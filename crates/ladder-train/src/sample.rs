//! Autoregressive sampling with a KV cache: the prompt is encoded with the data's tokenizer and fed
//! one token at a time; each next token is drawn from `softmax(logits / temperature)` restricted
//! to the `top_k` most likely tokens (temperature 0 = greedy). The draws come from a ChaCha8
//! stream seeded with `seed`, so a (run, prompt, settings, seed) always gives the same text.
//!
//! The model holds `block_size` positions. When the cache is full, generation continues from a
//! fresh cache primed with the last `block_size / 2` tokens (a sliding window), so `--tokens` is
//! not limited by the context; a prompt longer than the context is an error.
//!
//! An empty prompt (or one that encodes to no tokens) samples unconditionally, as GPT-2 does: the
//! model is primed with the end-of-text token alone, the token that separates documents in
//! training, so what follows is the start of a fresh document. Its id is looked up in the
//! tokenizer by its text [`ladder_data::EOT`] (`<|endoftext|>`, id 0 in ladder's tokenizers).

use std::path::Path;

use ladder_model::KvCache;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::perf;
use crate::run::LoadedRun;

/// Settings of one generation.
#[derive(Clone, Debug)]
pub struct SampleOptions {
    /// Text to continue; empty = start a fresh document from the end-of-text token.
    pub prompt: String,
    /// Tokens to generate.
    pub tokens: usize,
    /// Softmax temperature; 0 = always the most likely token.
    pub temperature: f32,
    /// Keep only the k most likely tokens (0 = all).
    pub top_k: usize,
    /// Seeds the draws.
    pub seed: u64,
}

/// A generation's result.
#[derive(Clone, Debug)]
pub struct SampleOutput {
    /// The token ids the model was primed with: the prompt's, or the end-of-text token alone
    /// when the prompt was empty.
    pub prompt_ids: Vec<u32>,
    /// The generated token ids.
    pub ids: Vec<u32>,
    /// The generated text (without the prompt).
    pub text: String,
    /// Prompt and generation decoded together (what a reader wants: the tokenizer decides the
    /// spacing at the seam).
    pub full_text: String,
}

/// Generates from a run's newest checkpoint; `data` overrides the run's data dir (tokenizer).
pub fn sample(run_dir: &Path, data: Option<&Path>, opts: &SampleOptions) -> Result<SampleOutput> {
    if !(opts.temperature >= 0.0 && opts.temperature.is_finite()) {
        return Err(Error::BadTemperature(opts.temperature));
    }
    let run = LoadedRun::open(run_dir)?;
    let tok = ladder_data::load_tokenizer(&run.data_dir(data)?)?;
    let enc = tok
        .encode(opts.prompt.as_str(), false)
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    let mut prompt_ids: Vec<u32> = enc.get_ids().to_vec();
    let unconditional = prompt_ids.is_empty();
    if unconditional {
        let eot = tok
            .token_to_id(ladder_data::EOT)
            .ok_or(Error::NoEndOfTextToken)?;
        prompt_ids.push(eot);
    }
    let block = run.model_cfg.block_size;
    if prompt_ids.len() > block {
        return Err(Error::PromptTooLong {
            tokens: prompt_ids.len(),
            block_size: block,
        });
    }
    let vocab = run.model_cfg.vocab_size;
    if let Some((index, &token)) = prompt_ids
        .iter()
        .enumerate()
        .find(|(_, &t)| t as usize >= vocab)
    {
        return Err(Error::TokenOutOfRange {
            index,
            token,
            vocab,
        });
    }
    let pool = perf::thread_pool(run.config.train.threads)?;
    let ids = pool.install(|| generate(&run, &prompt_ids, opts))?;
    let decode = |ids: &[u32]| {
        tok.decode(ids, false)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    };
    let text = decode(&ids)?;
    // The end-of-text primer is not text the user wrote: show only what was generated.
    let full_text = if unconditional {
        text.clone()
    } else {
        decode(&[prompt_ids.as_slice(), ids.as_slice()].concat())?
    };
    Ok(SampleOutput {
        prompt_ids,
        ids,
        text,
        full_text,
    })
}

/// The token loop (see the module docs for the sliding window).
fn generate(run: &LoadedRun, prompt: &[u32], opts: &SampleOptions) -> Result<Vec<u32>> {
    let block = run.model_cfg.block_size;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut context: Vec<u32> = prompt.to_vec();
    let mut out = Vec::with_capacity(opts.tokens);
    let mut cache = KvCache::new(&run.model_cfg, block);
    let mut logits: Vec<f32> = Vec::new();
    for &t in prompt {
        logits = cache.next_logits(&run.params, t)?.to_vec();
    }
    let mut scratch = Vec::with_capacity(logits.len());
    for _ in 0..opts.tokens {
        let next = pick(
            &logits,
            opts.temperature,
            opts.top_k,
            &mut rng,
            &mut scratch,
        );
        out.push(next);
        context.push(next);
        if out.len() == opts.tokens {
            break;
        }
        if cache.len() >= block {
            // Slide: restart from the last half-context of tokens.
            cache = KvCache::new(&run.model_cfg, block);
            let keep = (block / 2).max(1);
            let start = context.len() - keep.min(context.len());
            for &t in &context[start..context.len() - 1] {
                cache.next_logits(&run.params, t)?;
            }
        }
        logits = cache.next_logits(&run.params, next)?.to_vec();
    }
    Ok(out)
}

/// Draws a token id from `logits` (see the module docs). Ties in top-k keep the lower id.
pub fn pick(
    logits: &[f32],
    temperature: f32,
    top_k: usize,
    rng: &mut ChaCha8Rng,
    scratch: &mut Vec<(f32, u32)>,
) -> u32 {
    let argmax = || {
        let mut best = 0;
        for (i, &x) in logits.iter().enumerate() {
            if x > logits[best] {
                best = i;
            }
        }
        best as u32
    };
    if temperature == 0.0 || top_k == 1 {
        return argmax();
    }
    scratch.clear();
    scratch.extend(logits.iter().enumerate().map(|(i, &x)| (x, i as u32)));
    // Descending by logit, ascending id on ties: a total order, so the cut is deterministic.
    scratch.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    if top_k > 0 && top_k < scratch.len() {
        scratch.truncate(top_k);
    }
    let max = scratch[0].0 as f64;
    let inv_t = 1.0 / temperature as f64;
    let weights: f64 = scratch
        .iter()
        .map(|&(x, _)| ((x as f64 - max) * inv_t).exp())
        .sum();
    let mut u = rng.random::<f64>() * weights;
    for &(x, id) in scratch.iter() {
        u -= ((x as f64 - max) * inv_t).exp();
        if u <= 0.0 {
            return id;
        }
    }
    scratch[scratch.len() - 1].1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_is_greedy_at_zero_temperature_and_respects_top_k() {
        let logits = [0.0, 3.0, 1.0, 2.9];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut s = Vec::new();
        assert_eq!(pick(&logits, 0.0, 0, &mut rng, &mut s), 1);
        for _ in 0..200 {
            let id = pick(&logits, 1.0, 2, &mut rng, &mut s);
            assert!(id == 1 || id == 3, "{id}");
        }
    }

    #[test]
    fn pick_is_deterministic_per_seed_and_follows_probabilities() {
        let logits = [0.0f32, (3.0f32).ln()]; // probabilities 1/4, 3/4
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut s = Vec::new();
            (0..4000)
                .map(|_| pick(&logits, 1.0, 0, &mut rng, &mut s))
                .collect::<Vec<_>>()
        };
        let a = draw(5);
        assert_eq!(a, draw(5));
        assert_ne!(a, draw(6));
        let ones = a.iter().filter(|&&x| x == 1).count() as f64 / a.len() as f64;
        // 4000 draws: standard error sqrt(0.75*0.25/4000) ~ 0.007
        assert!((ones - 0.75).abs() < 0.035, "{ones}");
    }
}
