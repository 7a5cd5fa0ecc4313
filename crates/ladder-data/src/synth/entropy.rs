//! The exact loss of the true process: the forward recursion over rules.
//!
//! With the rule unknown, the predictive probability of content token `x_t` of a document is
//! `p(x_t | x_<t) = s_t · Σ_k w_t(k) P_k(x_t | x_<t)`, where `s_1 = 1` and `s_t = 1 - q` for `t ≥ 2`
//! (the document did not end), `w_1 = p` (the rule prior) and for `t ≥ 2`
//! `w_t(k) = (1 - r) π_{t-1}(k) + r p_k` (`r` = switch probability) with the posterior
//! `π_t(k) ∝ w_t(k) P_k(x_t | x_<t)`. The BOS that follows a complete document costs `-ln q`.
//! Documents are independent given their BOS, so they are processed in parallel; rules whose
//! posterior is exactly zero are skipped, which changes no result (without switching, the
//! posterior collapses onto the true rule within a few tokens, so the cost is near one rule per
//! token).

use rayon::prelude::*;

use super::process::Process;

/// Per-target losses of one document: writes `-ln p` of each content token of `doc` into
/// `out[..doc.len()]` and, when `bos_follows`, the loss of the next document's BOS into
/// `out[doc.len()]`. `out.len()` must be `doc.len() + bos_follows as usize`.
pub fn doc_losses(p: &Process, doc: &[u32], bos_follows: bool, out: &mut [f64]) {
    assert_eq!(out.len(), doc.len() + usize::from(bos_follows));
    let n_rules = p.rules();
    let (q, r) = (p.end_prob, p.switch_prob);
    let mut post = p.prior.clone();
    let mut w = vec![0.0f64; n_rules];
    let mut alive: Vec<usize> = (0..n_rules).collect();
    for t in 0..doc.len() {
        if t > 0 && r > 0.0 {
            // Rule switch: every rule regains mass r p_k.
            for (pk, prior) in post.iter_mut().zip(&p.prior) {
                *pk = (1.0 - r) * *pk + r * prior;
            }
            alive.clear();
            alive.extend(0..n_rules);
        }
        let x = doc[t];
        let mut total = 0.0;
        for &k in &alive {
            let v = post[k] * p.rule_prob(k, doc, t, x);
            w[k] = v;
            total += v;
        }
        let stay = if t == 0 { 1.0 } else { 1.0 - q };
        out[t] = -(stay * total).ln();
        for &k in &alive {
            post[k] = w[k] / total;
        }
        alive.retain(|&k| w[k] > 0.0);
    }
    if bos_follows {
        out[doc.len()] = -q.ln();
    }
}

/// Exact losses of the true process over a token stream of BOS-started documents.
#[derive(Clone, Debug)]
pub struct StreamLoss {
    /// `per_token[i]` = `-ln p(tokens[i] | tokens[..i])` for `i ≥ 1`; `per_token[0]` = 0 (the
    /// first BOS is not a target).
    pub per_token: Vec<f64>,
    /// Mean over targets `1..n`, nats per token.
    pub mean: f64,
    /// Standard error of `mean` as an estimate of the entropy rate: ratio estimator over
    /// documents (renewal-reward), `sqrt(Σ_i (S_i - mean·n_i)² / (D(D-1))) / n̄`.
    pub stderr: f64,
}

/// Computes [`StreamLoss`] for `tokens`, which must start with BOS (0) and come from `p`.
pub fn stream_loss(p: &Process, tokens: &[u32]) -> StreamLoss {
    let n = tokens.len();
    let mut per_token = vec![0.0f64; n];
    if n <= 1 {
        return StreamLoss {
            per_token,
            mean: f64::NAN,
            stderr: f64::NAN,
        };
    }
    debug_assert_eq!(tokens[0], 0, "a synthetic stream starts with BOS");
    let bos: Vec<usize> = (0..n).filter(|&i| tokens[i] == 0).collect();
    // Cut per_token[1..] into one slice per document: its content plus the next BOS.
    let mut slices: Vec<(&[u32], bool, &mut [f64])> = Vec::with_capacity(bos.len());
    let mut rest: &mut [f64] = &mut per_token[1..];
    for (d, &b) in bos.iter().enumerate() {
        let next = bos.get(d + 1).copied();
        let end = next.unwrap_or(n);
        let content = &tokens[b + 1..end];
        let len = content.len() + usize::from(next.is_some());
        let (mine, tail) = std::mem::take(&mut rest).split_at_mut(len);
        rest = tail;
        slices.push((content, next.is_some(), mine));
    }
    let sums: Vec<(f64, usize)> = slices
        .into_par_iter()
        .map(|(doc, bos_follows, out)| {
            doc_losses(p, doc, bos_follows, out);
            (out.iter().sum::<f64>(), out.len())
        })
        .collect();
    let total: f64 = per_token[1..].iter().sum();
    let targets = (n - 1) as f64;
    let mean = total / targets;
    let docs: Vec<&(f64, usize)> = sums.iter().filter(|(_, m)| *m > 0).collect();
    let d = docs.len() as f64;
    let stderr = if docs.len() > 1 {
        let nbar = targets / d;
        let ss: f64 = docs
            .iter()
            .map(|(s, m)| (s - mean * *m as f64).powi(2))
            .sum();
        (ss / (d * (d - 1.0))).sqrt() / nbar
    } else {
        f64::NAN
    };
    StreamLoss {
        per_token,
        mean,
        stderr,
    }
}

/// Upper bound on the best loss of a model that sees only `seq_len`-token windows, as `val_batches`
/// cuts them (window `j` = tokens `jT ..= jT + T`, targets `jT + 1 ..= jT + T`): the mean loss of
/// one predictor that uses only its window. Within a window, documents that start inside it are
/// scored exactly. For the document already under way at the window start, the rule weights start
/// at `p_k · [x_0 ∈ A_k]` and a rule whose context reaches back before the window predicts uniformly
/// over its alphabet. Any such predictor is valid, so its loss bounds the windowed Bayes loss from
/// above, as the entropy bounds it from below.
pub fn window_bound(p: &Process, tokens: &[u32], seq_len: usize) -> f64 {
    assert!(seq_len > 0);
    let windows = tokens.len().saturating_sub(1) / seq_len;
    if windows == 0 {
        return f64::NAN;
    }
    let total: f64 = (0..windows)
        .into_par_iter()
        .map(|j| {
            let w = &tokens[j * seq_len..=(j + 1) * seq_len];
            let mut out = vec![0.0f64; seq_len];
            // Segments: [start, next BOS) in window coordinates.
            let mut start = 0;
            // Stop when no target is left (the window's last token may be a BOS).
            while start < w.len() - 1 {
                let end = w[start + 1..]
                    .iter()
                    .position(|&t| t == 0)
                    .map_or(w.len(), |e| start + 1 + e);
                let bos_follows = end < w.len();
                // Targets start + 1 ..= end (end only if it is a BOS inside the window).
                let n_out = end - start - 1 + usize::from(bos_follows);
                let dst = &mut out[start..start + n_out];
                if w[start] == 0 {
                    doc_losses(p, &w[start + 1..end], bos_follows, dst);
                } else {
                    partial_doc_losses(p, &w[start..end], bos_follows, dst);
                }
                start = end;
            }
            out.iter().sum::<f64>()
        })
        .collect::<Vec<f64>>()
        .iter()
        .sum();
    total / (windows * seq_len) as f64
}

/// Losses of a document seen from the middle: `seg[0]` is known (not a target), `seg[1..]` are
/// scored, then the following BOS if `bos_follows`. See [`window_bound`].
fn partial_doc_losses(p: &Process, seg: &[u32], bos_follows: bool, out: &mut [f64]) {
    assert_eq!(out.len(), seg.len() - 1 + usize::from(bos_follows));
    let n_rules = p.rules();
    let (q, r) = (p.end_prob, p.switch_prob);
    let uniform = 1.0 / p.alphabet as f64;
    let mut post: Vec<f64> = (0..n_rules)
        .map(|k| {
            if p.alphabet_of(k).contains(&seg[0]) {
                p.prior[k]
            } else {
                0.0
            }
        })
        .collect();
    let z: f64 = post.iter().sum();
    post.iter_mut().for_each(|x| *x /= z);
    let mut w = vec![0.0f64; n_rules];
    let mut alive: Vec<usize> = (0..n_rules).filter(|&k| post[k] > 0.0).collect();
    for t in 1..seg.len() {
        if r > 0.0 {
            for (pk, prior) in post.iter_mut().zip(&p.prior) {
                *pk = (1.0 - r) * *pk + r * prior;
            }
            alive.clear();
            alive.extend(0..n_rules);
        }
        let x = seg[t];
        let mut total = 0.0;
        for &k in &alive {
            let pk = if t >= p.orders[k] {
                p.rule_prob(k, seg, t, x)
            } else if p.alphabet_of(k).contains(&x) {
                uniform
            } else {
                0.0
            };
            let v = post[k] * pk;
            w[k] = v;
            total += v;
        }
        out[t - 1] = -((1.0 - q) * total).ln();
        for &k in &alive {
            post[k] = w[k] / total;
        }
        alive.retain(|&k| w[k] > 0.0);
    }
    if bos_follows {
        out[seg.len() - 1] = -q.ln();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::SynthConfig;

    /// 2 rules of order 1 over tokens {1, 2, 3} (V = 4), 2 candidates per context, short
    /// documents: small enough to enumerate.
    fn tiny(switch_prob: f64) -> Process {
        tiny_with(switch_prob, 2.0)
    }

    fn tiny_with(switch_prob: f64, mean_doc_len: f64) -> Process {
        Process::new(&SynthConfig {
            vocab_size: 4,
            rules: 2,
            zipf_a: 0.5,
            alphabet: 3,
            order_min: 1,
            order_max: 1,
            branching: 2,
            branch_zipf: 1.0,
            mean_doc_len,
            switch_prob,
            ..SynthConfig::default()
        })
    }

    /// P(x_1..x_n, L ≥ n) by summing over every rule path k_1..k_n: the generating process
    /// written out, with no recursion.
    fn brute_joint(p: &Process, x: &[u32]) -> f64 {
        let n = x.len();
        let k = p.rules();
        let mut total = 0.0;
        for path in 0..k.pow(n as u32) {
            let ks: Vec<usize> = (0..n).map(|t| (path / k.pow(t as u32)) % k).collect();
            let mut pr = p.prior[ks[0]];
            for t in 1..n {
                let stay = if ks[t] == ks[t - 1] {
                    1.0 - p.switch_prob
                } else {
                    0.0
                };
                pr *= stay + p.switch_prob * p.prior[ks[t]];
            }
            for t in 0..n {
                pr *= p.rule_prob(ks[t], x, t, x[t]);
            }
            total += pr;
        }
        total * (1.0 - p.end_prob).powi(n as i32 - 1)
    }

    #[test]
    fn entropy_recursion_matches_brute_force_enumeration() {
        for r in [0.0, 0.3] {
            let p = tiny(r);
            let mut checked = 0;
            for n in 1..=6usize {
                for code in 0..3usize.pow(n as u32) {
                    let x: Vec<u32> = (0..n)
                        .map(|t| 1 + ((code / 3usize.pow(t as u32)) % 3) as u32)
                        .collect();
                    let joint = brute_joint(&p, &x);
                    let mut out = vec![0.0; n + 1];
                    doc_losses(&p, &x, true, &mut out);
                    if joint == 0.0 {
                        // Impossible sequence: the recursion must give it infinite loss too.
                        assert!(out[..n].iter().any(|v| v.is_infinite()), "{x:?}");
                        continue;
                    }
                    let rec: f64 = out[..n].iter().sum();
                    assert!(
                        (rec - -joint.ln()).abs() < 1e-12,
                        "r={r} {x:?}: {rec} vs {}",
                        -joint.ln()
                    );
                    // Conditionals, token by token.
                    let prev = if n > 1 {
                        brute_joint(&p, &x[..n - 1])
                    } else {
                        1.0
                    };
                    assert!((out[n - 1] - -(joint / prev).ln()).abs() < 1e-12);
                    assert!((out[n] - -p.end_prob.ln()).abs() < 1e-15);
                    checked += 1;
                }
            }
            assert!(checked > 50, "only {checked} possible sequences");
        }
    }

    /// Expected loss per document and per target by depth-first enumeration of all documents up to
    /// `max_len` content tokens (recursion for the per-token losses, validated above). Returns
    /// (rate, bound on the truncation error of the rate).
    fn enumerated_rate(p: &Process, max_len: usize) -> (f64, f64) {
        fn dfs(p: &Process, x: &mut Vec<u32>, prob: f64, cum: f64, max_len: usize, acc: &mut f64) {
            let q = p.end_prob;
            if !x.is_empty() {
                // The document ends here: its BOS target costs -ln q.
                *acc += prob * q * (cum - q.ln());
                if x.len() == max_len {
                    return;
                }
            }
            for v in 1..4u32 {
                x.push(v);
                let mut out = vec![0.0; x.len()];
                doc_losses(p, x, false, &mut out);
                let l = out[x.len() - 1];
                if l.is_finite() {
                    dfs(p, x, prob * (-l).exp(), cum + l, max_len, acc);
                }
                x.pop();
            }
        }
        let mut es = 0.0;
        dfs(p, &mut Vec::new(), 1.0, 0.0, max_len, &mut es);
        // Targets per document: L content tokens + the next BOS; E[L] = 1/q.
        let en = 1.0 / p.end_prob + 1.0;
        // Documents longer than max_len have mass (1-q)^max_len; each costs at most
        // max_len·(max per-token loss) more; bound generously with ln(1/min prob) per token.
        let tail = (1.0 - p.end_prob).powi(max_len as i32);
        let worst = -(p.branch_probs.iter().cloned().fold(1.0, f64::min)
            * p.prior.iter().cloned().fold(1.0, f64::min)
            * (1.0 - p.end_prob))
            .ln();
        let bound = tail * (max_len as f64 + 1.0 / p.end_prob + 1.0) * worst / en;
        (es / en, bound)
    }

    #[test]
    fn entropy_of_generated_data_converges_to_enumerated_rate() {
        for r in [0.0, 0.3] {
            // Mean length 1.8: documents longer than 14 tokens (not enumerated) have mass 1e-5.
            let p = tiny_with(r, 1.8);
            let (rate, bound) = enumerated_rate(&p, 14);
            // Generate a long stream from the process and score it with the recursion.
            let lens = p.doc_lengths(1, 3_000_000);
            let mut tokens = Vec::with_capacity(3_000_000);
            for (i, &len) in lens.iter().enumerate() {
                tokens.push(0);
                let start = tokens.len();
                tokens.resize(start + len, 0);
                p.fill_doc(1, i as u64, &mut tokens[start..]);
            }
            let s = stream_loss(&p, &tokens);
            let diff = (s.mean - rate).abs();
            eprintln!(
                "r={r}: enumerated {rate:.5} (tail ≤ {bound:.1e}), generated {:.5} ± {:.5}",
                s.mean, s.stderr
            );
            assert!(diff < 4.0 * s.stderr + bound, "r={r}: {} vs {rate}", s.mean);
            assert!(s.stderr < 2e-3);
        }
    }

    #[test]
    fn window_bound_brackets_the_windowed_optimum_from_above() {
        let cfg = SynthConfig {
            train_tokens: 2,
            val_tokens: 100_000,
            ..SynthConfig::default()
        };
        let p = Process::new(&cfg);
        let (val, _) = crate::synth::generate_split(&p, 1, cfg.val_tokens, &crate::NoProgress);
        let exact = stream_loss(&p, &val);
        // One window holding the whole stream (it starts with BOS): the bound is the entropy.
        let whole = window_bound(&p, &val, val.len() - 1);
        assert!(
            (whole - exact.mean).abs() < 1e-12,
            "{whole} vs {}",
            exact.mean
        );
        let mut last = f64::INFINITY;
        for t in [16, 64, 256, 1024] {
            let n = (val.len() - 1) / t * t;
            let h: f64 = exact.per_token[1..=n].iter().sum::<f64>() / n as f64;
            let b = window_bound(&p, &val, t);
            eprintln!(
                "T = {t}: entropy {h:.4}, window bound {b:.4} (+{:.4})",
                b - h
            );
            assert!(b > h, "T = {t}: {b} <= {h}");
            assert!(b < last + 0.01, "longer windows help");
            last = b;
        }
    }
}
