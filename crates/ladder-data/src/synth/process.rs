//! The generating process of the synthetic source: rules, their sparse Markov chains, documents.
//!
//! Token 0 is `<|endoftext|>` (BOS): it starts every document and is never emitted by a rule.
//! Rule `k` (0-based rank; frequency `p_k ∝ (k+1)^-(1+a)`) has
//! - an alphabet `A_k` of `m` distinct tokens from `1..V`, drawn once from the seed;
//! - an order `o_k = order_min + k mod (order_max - order_min + 1)` (cycled over the ranks so
//!   every frequency band mixes all orders);
//! - for every context `c` (the previous `o_k` tokens, BOS-padded at the document start) a set of
//!   `s` distinct candidates from `A_k`, derived from a hash of `(seed, k, c)` and never stored,
//!   with probabilities `π_j ∝ (j+1)^-b` (`b` = `branch_zipf`), `j` the candidate's draw order.
//!
//! A document: draw a rule from `p`; emit `x_1 ~ P_k(· | BOS…)`; after each token, end with
//! probability `q = 1 / mean_doc_len` (so lengths are geometric, at least 1); before each further
//! token, with probability `switch_prob` redraw the rule from `p` (it may stay the same); emit
//! `x_t ~ P_k(· | x_{t-o_k} … x_{t-1})`.

use super::SynthConfig;
use crate::rng::{hash_words, mix64, Rng};

/// Most candidates a context may have (keeps candidate sets on the stack).
pub const MAX_BRANCHING: usize = 16;

/// Domain tags keep the hash streams for different purposes independent.
const TAG_ALPHABET: u64 = 1;
const TAG_RULE: u64 = 2;
const TAG_DOC: u64 = 3;
const TAG_LEN: u64 = 4;

/// The process of a [`SynthConfig`], with the few per-rule tables it needs (`O(K·m)` memory).
#[derive(Clone, Debug)]
pub struct Process {
    /// Vocabulary size V.
    pub vocab_size: usize,
    /// Rule frequencies `p_k`, summing to 1.
    pub prior: Vec<f64>,
    prior_cdf: Vec<f64>,
    /// Markov order of each rule.
    pub orders: Vec<usize>,
    /// Alphabets, `m` tokens per rule, rule-major.
    alphabets: Vec<u32>,
    /// Alphabet size m.
    pub alphabet: usize,
    rule_keys: Vec<u64>,
    /// Candidate probabilities by draw order (length s).
    pub branch_probs: Vec<f64>,
    branch_cdf: Vec<f64>,
    /// Probability that a document ends after each token.
    pub end_prob: f64,
    /// Probability of redrawing the rule before each token after the first.
    pub switch_prob: f64,
    seed: u64,
}

/// Normalised `(i+1)^-e` for `i in 0..n`.
fn zipf(n: usize, e: f64) -> Vec<f64> {
    let w: Vec<f64> = (0..n).map(|i| ((i + 1) as f64).powf(-e)).collect();
    let z: f64 = w.iter().sum();
    w.into_iter().map(|x| x / z).collect()
}

fn cdf(p: &[f64]) -> Vec<f64> {
    let mut acc = 0.0;
    let mut c: Vec<f64> = p
        .iter()
        .map(|x| {
            acc += x;
            acc
        })
        .collect();
    if let Some(last) = c.last_mut() {
        *last = 1.0; // guard against rounding: u < 1 always lands inside
    }
    c
}

fn sample_cdf(cdf: &[f64], u: f64) -> usize {
    cdf.partition_point(|&c| c <= u).min(cdf.len() - 1)
}

impl Process {
    /// Builds the process. `cfg` must be valid ([`SynthConfig::validate`]).
    pub fn new(cfg: &SynthConfig) -> Self {
        let k = cfg.rules;
        let m = cfg.alphabet;
        let prior = zipf(k, 1.0 + cfg.zipf_a);
        let span = cfg.order_max - cfg.order_min + 1;
        let orders = (0..k).map(|r| cfg.order_min + r % span).collect();
        // Alphabets: a partial Fisher–Yates shuffle of 1..V per rule.
        let mut alphabets = Vec::with_capacity(k * m);
        let mut pool: Vec<u32> = (1..cfg.vocab_size as u32).collect();
        for r in 0..k {
            let mut rng = Rng::new(hash_words(&[TAG_ALPHABET, cfg.seed, r as u64]));
            for i in 0..m {
                let j = i + rng.below((pool.len() - i) as u64) as usize;
                pool.swap(i, j);
            }
            alphabets.extend_from_slice(&pool[..m]);
        }
        let rule_keys = (0..k)
            .map(|r| hash_words(&[TAG_RULE, cfg.seed, r as u64]))
            .collect();
        let branch_probs = zipf(cfg.branching, cfg.branch_zipf);
        Process {
            vocab_size: cfg.vocab_size,
            prior_cdf: cdf(&prior),
            prior,
            orders,
            alphabets,
            alphabet: m,
            rule_keys,
            branch_cdf: cdf(&branch_probs),
            branch_probs,
            end_prob: 1.0 / cfg.mean_doc_len,
            switch_prob: cfg.switch_prob,
            seed: cfg.seed,
        }
    }

    /// Number of rules K.
    pub fn rules(&self) -> usize {
        self.prior.len()
    }

    /// Alphabet of rule `k`.
    pub fn alphabet_of(&self, k: usize) -> &[u32] {
        &self.alphabets[k * self.alphabet..(k + 1) * self.alphabet]
    }

    /// The context key of rule `k` at position `t` of `doc` (content tokens, no BOS): the
    /// previous `o_k` tokens, with BOS (0) before the document start.
    #[inline]
    fn context(&self, k: usize, doc: &[u32], t: usize) -> u64 {
        // Injective packing: the order in the low 8 bits, then 18 bits per token (ids < 2^16).
        let mut key = self.orders[k] as u64;
        for back in 1..=self.orders[k] {
            let tok = if t >= back { doc[t - back] } else { 0 };
            key |= (tok as u64 + 1) << (8 + 18 * (back - 1));
        }
        key
    }

    /// Candidates of rule `k` in context `ctx`, in draw order (only the first `s` are set).
    #[inline]
    fn candidates(&self, k: usize, ctx: u64) -> [u32; MAX_BRANCHING] {
        let s = self.branch_probs.len();
        let alpha = self.alphabet_of(k);
        let mut rng = Rng::new(mix64(self.rule_keys[k] ^ mix64(ctx)));
        let mut out = [0u32; MAX_BRANCHING];
        let mut n = 0;
        while n < s {
            let c = alpha[rng.below(alpha.len() as u64) as usize];
            if !out[..n].contains(&c) {
                out[n] = c;
                n += 1;
            }
        }
        out
    }

    /// `P_k(doc[t] = x | doc[..t])` for rule `k`, ignoring the end-of-document factor.
    #[inline]
    pub fn rule_prob(&self, k: usize, doc: &[u32], t: usize, x: u32) -> f64 {
        let cand = self.candidates(k, self.context(k, doc, t));
        match cand[..self.branch_probs.len()].iter().position(|&c| c == x) {
            Some(j) => self.branch_probs[j],
            None => 0.0,
        }
    }

    /// Draws the next token of rule `k` after `doc[..t]`.
    #[inline]
    fn emit(&self, k: usize, doc: &[u32], t: usize, rng: &mut Rng) -> u32 {
        let cand = self.candidates(k, self.context(k, doc, t));
        cand[sample_cdf(&self.branch_cdf, rng.uniform())]
    }

    fn draw_rule(&self, rng: &mut Rng) -> usize {
        sample_cdf(&self.prior_cdf, rng.uniform())
    }

    /// Content lengths (without BOS) of the documents of a split, drawn sequentially from
    /// `(seed, split)` until `1 + len` summed over documents reaches `tokens`; the last length is
    /// cut so the total is exactly `tokens` (it may become 0: a final lone BOS).
    pub fn doc_lengths(&self, split: u64, tokens: u64) -> Vec<usize> {
        let mut rng = Rng::new(hash_words(&[TAG_LEN, self.seed, split]));
        let ln_stay = (1.0 - self.end_prob).ln();
        let mut lens = Vec::new();
        let mut total = 0u64;
        while total < tokens {
            let len = if self.end_prob >= 1.0 {
                1
            } else {
                // Inverse CDF of the geometric law on {1, 2, ...}: P(L > l) = (1-q)^l.
                let u = 1.0 - rng.uniform(); // (0, 1]
                1 + (u.ln() / ln_stay).floor().min(1e9) as usize
            };
            let len = len.min((tokens - total - 1) as usize);
            total += 1 + len as u64;
            lens.push(len);
        }
        lens
    }

    /// Fills `doc` (content tokens of document `index` of `split`, length fixed by the caller)
    /// from its own random stream, so documents can be generated in parallel and in any order.
    pub fn fill_doc(&self, split: u64, index: u64, doc: &mut [u32]) {
        let mut rng = Rng::new(hash_words(&[TAG_DOC, self.seed, split, index]));
        let mut k = self.draw_rule(&mut rng);
        for t in 0..doc.len() {
            if t > 0 && self.switch_prob > 0.0 && rng.uniform() < self.switch_prob {
                k = self.draw_rule(&mut rng);
            }
            doc[t] = self.emit(k, doc, t, &mut rng);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_candidates_are_distinct_members_of_the_alphabet() {
        let cfg = SynthConfig {
            vocab_size: 64,
            rules: 5,
            alphabet: 6,
            branching: 6,
            ..SynthConfig::default()
        };
        let p = Process::new(&cfg);
        for k in 0..5 {
            let a = p.alphabet_of(k);
            assert!(a.iter().all(|&t| (1..64).contains(&t)));
            let mut sorted = a.to_vec();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), 6);
            for ctx in 0..50u64 {
                let c = p.candidates(k, ctx);
                let mut c6 = c[..6].to_vec();
                c6.sort();
                assert_eq!(
                    c6, sorted,
                    "s = m: candidates are a permutation of the alphabet"
                );
            }
        }
        let total: f64 = p.prior.iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert_eq!(p.orders, vec![1, 2, 3, 1, 2]);
    }

    #[test]
    fn process_doc_lengths_hit_the_token_count_exactly() {
        let p = Process::new(&SynthConfig::default());
        for tokens in [1u64, 2, 100, 12_345] {
            let lens = p.doc_lengths(0, tokens);
            let total: u64 = lens.iter().map(|&l| 1 + l as u64).sum();
            assert_eq!(total, tokens);
            assert!(lens[..lens.len() - 1].iter().all(|&l| l >= 1));
        }
        let lens = p.doc_lengths(0, 2_000_000);
        let mean = lens.iter().sum::<usize>() as f64 / lens.len() as f64;
        let want = SynthConfig::default().mean_doc_len;
        assert!(
            (mean / want - 1.0).abs() < 0.03,
            "mean length {mean} vs {want}"
        );
    }
}
