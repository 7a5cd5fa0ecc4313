//! Count-based reference models for a token stream: what a model that ignores the rule structure
//! reaches. A trained transformer should beat both; the synthetic source's entropy must sit well
//! below both (else there would be nothing to learn beyond n-grams).

/// Vocabularies above this skip the bigram baseline (its V×V table would not fit comfortably).
pub const MAX_BIGRAM_VOCAB: usize = 8192;

/// Unigram counts of `train` with add-0.5 smoothing, scored on targets `1..` of `val`
/// (nats per token).
pub fn unigram_nats(train: &[u32], val: &[u32], vocab: usize) -> f64 {
    let uni = unigram_probs(train, vocab);
    let n = val.len().saturating_sub(1).max(1) as f64;
    val[1..].iter().map(|&y| -uni[y as usize].ln()).sum::<f64>() / n
}

fn unigram_probs(train: &[u32], vocab: usize) -> Vec<f64> {
    let mut c = vec![0.5f64; vocab];
    for &t in train {
        c[t as usize] += 1.0;
    }
    let z: f64 = c.iter().sum();
    c.into_iter().map(|x| x / z).collect()
}

/// Bigram counts of `train`, smoothed towards the unigram with a Dirichlet prior of strength β:
/// `p(y | x) = (c(x, y) + β u(y)) / (c(x) + β)`. β is the best of a small grid *on val*, which
/// flatters the baseline (a lower bound on what a fair bigram model gets). `None` above
/// [`MAX_BIGRAM_VOCAB`].
pub fn bigram_nats(train: &[u32], val: &[u32], vocab: usize) -> Option<f64> {
    if vocab > MAX_BIGRAM_VOCAB {
        return None;
    }
    let uni = unigram_probs(train, vocab);
    let mut pair = vec![0u32; vocab * vocab];
    let mut ctx = vec![0u64; vocab];
    for w in train.windows(2) {
        pair[w[0] as usize * vocab + w[1] as usize] += 1;
        ctx[w[0] as usize] += 1;
    }
    let n = val.len().saturating_sub(1).max(1) as f64;
    [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]
        .iter()
        .map(|&beta| {
            val.windows(2)
                .map(|w| {
                    let (x, y) = (w[0] as usize, w[1] as usize);
                    let p = (pair[x * vocab + y] as f64 + beta * uni[y]) / (ctx[x] as f64 + beta);
                    -p.ln()
                })
                .sum::<f64>()
                / n
        })
        .reduce(f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_match_hand_counts() {
        // Alternating 1 2 1 2 ...: the bigram predicts perfectly, the unigram pays ln 2.
        let train: Vec<u32> = (0..10_000).map(|i| 1 + (i % 2) as u32).collect();
        let val: Vec<u32> = (0..1000).map(|i| 1 + (i % 2) as u32).collect();
        let u = unigram_nats(&train, &val, 3);
        assert!((u - 2f64.ln()).abs() < 1e-3, "{u}");
        let b = bigram_nats(&train, &val, 3).expect("small vocab");
        assert!(b < 1e-4, "{b}");
    }
}
