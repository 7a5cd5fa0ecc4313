//! Compute-optimal allocation under C = 6·N·D (DESIGN §4; Hoffmann et al. 2022, App. D.4):
//! minimising `E + A/N^α + B/D^β` subject to `6ND = C` gives
//! `N_opt = G·(C/6)^a`, `D_opt = G⁻¹·(C/6)^b` with `a = β/(α+β)`, `b = α/(α+β)` and
//! `G = (αA / (βB))^{1/(α+β)}`.

/// Exponents `(a, b)` of N_opt ∝ C^a and D_opt ∝ C^b for a Chinchilla law.
pub fn exponents(alpha: f64, beta: f64) -> (f64, f64) {
    let s = alpha + beta;
    (beta / s, alpha / s)
}

/// `G = (αA / (βB))^{1/(α+β)}`.
pub fn g_factor(a_coef: f64, b_coef: f64, alpha: f64, beta: f64) -> f64 {
    (alpha * a_coef / (beta * b_coef)).powf(1.0 / (alpha + beta))
}

/// `(N_opt, D_opt)` at compute `c` for natural parameters `[E, A, B, alpha, beta]`.
/// Non-finite when α or β ≤ 0 (no interior optimum).
pub fn optimal(p: &[f64], c: f64) -> (f64, f64) {
    let (a_coef, b_coef, alpha, beta) = (p[1], p[2], p[3], p[4]);
    if !(alpha > 0.0 && beta > 0.0) {
        return (f64::NAN, f64::NAN);
    }
    let (a, b) = exponents(alpha, beta);
    let g = g_factor(a_coef, b_coef, alpha, beta);
    (g * (c / 6.0).powf(a), (c / 6.0).powf(b) / g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chinchilla::predict;

    #[test]
    fn allocation_is_the_constrained_minimum() {
        // Hoffmann et al.'s fit: E 1.69, A 406.4, B 410.7, α 0.34, β 0.28.
        let p = [1.69, 406.4, 410.7, 0.34, 0.28];
        let c = 1e21;
        let (n, d) = optimal(&p, c);
        assert!((6.0 * n * d / c - 1.0).abs() < 1e-12);
        // Moving along 6ND = C in either direction raises the loss.
        let l0 = predict(&p, n, d);
        for f in [0.9, 1.1] {
            assert!(predict(&p, n * f, d / f) > l0);
        }
        let (a, b) = exponents(0.34, 0.28);
        assert!((a + b - 1.0).abs() < 1e-15 && (a - 0.28 / 0.62).abs() < 1e-15);
        assert!(optimal(&[1.0, 1.0, 1.0, 0.0, 0.3], c).0.is_nan());
    }
}
