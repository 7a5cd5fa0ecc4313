//! Per-point measurement noise: standard errors of the fitted quantity turned into log-space
//! noise, the weights of a weighted fit, and the χ² test of the residuals against that noise.
//!
//! A point `y_i ± SE_i` has noise `σ_i = SE_i/y_i` in `ln y` (delta method). A weighted fit
//! minimises `Σ Huber_δ(k_i·r_i)` with `k_i = σ_ref/σ_i` and `σ_ref` the geometric mean of the
//! σ_i: this is `σ_ref²·Σ Huber_{δ/σ_ref}(r_i/σ_i)`, i.e. Huber on the standardised residuals
//! `r_i/σ_i` with the threshold δ rescaled to noise units, so a point of typical noise sees the
//! same threshold δ (in log loss) as in an unweighted fit, and a point 10× noisier is trusted 10×
//! less and only treated as an outlier beyond 10·δ. With equal SEs the weighted fit is the
//! unweighted one.

/// The log-space noise of points with standard errors.
#[derive(Clone, Debug, PartialEq)]
pub struct Noise {
    /// σ_i = SE_i / y_i.
    pub sigma: Vec<f64>,
}

impl Noise {
    /// From values and their standard errors (both finite and > 0, checked on load).
    pub fn new(y: &[f64], se: &[f64]) -> Self {
        Noise {
            sigma: y.iter().zip(se).map(|(y, s)| s / y).collect(),
        }
    }

    /// Residual multipliers `k_i = σ_ref/σ_i` (module docs).
    pub fn weights(&self) -> Vec<f64> {
        if self.sigma.iter().all(|s| *s == self.sigma[0]) {
            // Equal noise: exactly the unweighted fit (no rounding through the geometric mean).
            return vec![1.0; self.sigma.len()];
        }
        let n = self.sigma.len().max(1) as f64;
        let sigma_ref = (self.sigma.iter().map(|s| s.ln()).sum::<f64>() / n).exp();
        self.sigma.iter().map(|s| sigma_ref / s).collect()
    }

    /// χ² of log residuals `r` (data − fit) against the noise, for a law of `params` parameters.
    pub fn chi2(&self, r: &[f64], params: usize) -> Chi2 {
        let chi2: f64 = r
            .iter()
            .zip(&self.sigma)
            .map(|(r, s)| (r / s) * (r / s))
            .sum();
        let dof = r.len().saturating_sub(params);
        let chi2_dof = chi2 / dof.max(1) as f64;
        Chi2 {
            chi2,
            dof,
            chi2_dof,
            consistent: dof > 0 && chi2 <= chi2_quantile(0.99, dof),
        }
    }
}

/// χ² of residuals against their measured noise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chi2 {
    /// Σ (r_i/σ_i)².
    pub chi2: f64,
    /// Points minus parameters.
    pub dof: usize,
    /// χ²/dof (≈ 1 when the law fits to within the noise).
    pub chi2_dof: f64,
    /// χ² is below the 99th percentile of the χ²(dof) distribution: the residuals are what the
    /// measured noise alone would give (a law misfitting beyond its noise fails this).
    pub consistent: bool,
}

impl Chi2 {
    /// The factor `max(1, sqrt(χ²/dof))` by which the noise bootstrap inflates the measured
    /// noise when the residuals exceed it.
    pub fn scale(&self) -> f64 {
        if self.dof == 0 {
            1.0
        } else {
            self.chi2_dof.sqrt().max(1.0)
        }
    }
}

/// The `p`-quantile of χ²(k) by the Wilson–Hilferty cube-root normal approximation (relative
/// error below 1 % for k ≥ 3 at p = 0.99); `p` in {0.95, 0.99}, else the 0.99 quantile.
pub fn chi2_quantile(p: f64, k: usize) -> f64 {
    let z = if (p - 0.95).abs() < 1e-12 {
        1.644_853_626_951_472_2
    } else {
        2.326_347_874_040_841
    };
    let k = k as f64;
    let h = 2.0 / (9.0 * k);
    k * (1.0 - h + z * h.sqrt()).powi(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_one_for_equal_noise_and_scale_inversely() {
        let n = Noise::new(&[2.0, 2.0], &[0.02, 0.02]);
        assert_eq!(n.weights(), vec![1.0, 1.0]);
        let n = Noise::new(&[1.0, 1.0], &[0.01, 0.1]);
        let k = n.weights();
        assert!((k[0] / k[1] - 10.0).abs() < 1e-12);
        assert!(
            (k[0] * k[1] - 1.0).abs() < 1e-12,
            "geometric mean reference"
        );
    }

    #[test]
    fn chi2_quantile_matches_tables() {
        // Tabulated 0.99 quantiles: k = 10 → 23.209, k = 30 → 50.892, k = 100 → 135.807.
        for (k, q) in [(10, 23.209), (30, 50.892), (100, 135.807)] {
            assert!((chi2_quantile(0.99, k) / q - 1.0).abs() < 0.005, "k {k}");
        }
        assert!((chi2_quantile(0.95, 10) / 18.307 - 1.0).abs() < 0.005);
    }

    #[test]
    fn chi2_flags_residuals_beyond_the_noise() {
        let n = Noise::new(&[1.0; 20], &[0.01; 20]);
        let ok = n.chi2(&[0.01; 20], 2);
        assert!((ok.chi2 - 20.0).abs() < 1e-9 && ok.dof == 18 && ok.consistent);
        let bad = n.chi2(&[0.03; 20], 2);
        assert!(!bad.consistent && (bad.scale() - 10f64.sqrt()).abs() < 1e-9);
    }
}
