//! Kaplan et al. (2020) laws (DESIGN §4): `L(N, D) = [(Nc/N)^{αN/αD} + Dc/D]^{αD}` (their eq. 1.5),
//! and the one-variable limits `L(N) = (Nc/N)^{αN}`, `L(D) = (Dc/D)^{αD}`.
//!
//! The joint form is fitted in log space with θ = (ln Nc, αN, ln Dc, αD):
//! `ln L = αD·LSE((αN/αD)(ln Nc − ln N), ln Dc − ln D)`, Huber_δ on the log residuals, L-BFGS from
//! a grid of 144 starts (Nc, Dc ∈ {1e9, 1e12, 1e15}, αN, αD ∈ {0.05, 0.1, 0.3, 0.6}). A one-variable
//! form is a line in log space, `ln L = αX·ln Xc − αX·ln X`, fitted from least squares. Both go
//! through [`crate::logfit`], so they weight by the points' standard errors when known.

use crate::chinchilla::{run_noise, LogPoints};
use crate::common::{check_count, check_varies, log_fit_file, put_param_spreads};
use crate::data::{RunPoints, XyPoints};
use crate::error::Result;
use crate::fitfile::FitFile;
use crate::logfit::{fit_line, fit_log, LogXy, Model};
use crate::options::FitOptions;
use crate::power::xy_noise;
use crate::solver::Objective;
use crate::stats::huber;

/// Parameter names of the joint form, in fit.json order.
pub const PARAMS: [&str; 4] = ["Nc", "alpha_N", "Dc", "alpha_D"];

/// `L(N, D)` for natural parameters `[Nc, alpha_N, Dc, alpha_D]`.
pub fn predict(p: &[f64], n: f64, d: f64) -> f64 {
    ((p[0] / n).powf(p[1] / p[3]) + p[2] / d).powf(p[3])
}

/// `L(X) = (Xc/X)^{αX}` for natural parameters `[Xc, alpha_X]`.
pub fn predict_single(p: &[f64], x: f64) -> f64 {
    (p[0] / x).powf(p[1])
}

struct Joint<'a> {
    pts: &'a LogPoints,
    delta: f64,
}

/// `ln L` of the joint form at point i for θ = (ln Nc, αN, ln Dc, αD).
fn ln_joint(p: &[f64; 4], ln_n: f64, ln_d: f64) -> f64 {
    let [lnc, an, ldc, ad] = *p;
    let u = an / ad * (lnc - ln_n);
    let v = ldc - ln_d;
    let m = u.max(v);
    ad * (m + ((u - m).exp() + (v - m).exp()).ln())
}

impl Objective<4> for Joint<'_> {
    fn value_grad(&self, p: &[f64; 4], g: &mut [f64; 4]) -> f64 {
        let [lnc, an, ldc, ad] = *p;
        if ad.is_nan() || ad <= 0.0 {
            // αD ≤ 0 leaves the law undefined: tell the line search to back off.
            *g = [0.0; 4];
            return f64::NAN;
        }
        let ratio = an / ad;
        let (mut f, mut g0, mut g1, mut g2, mut g3) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let pts = self.pts;
        for i in 0..pts.len() {
            let h = lnc - pts.ln_n[i];
            let u = ratio * h;
            let v = ldc - pts.ln_d[i];
            let m = u.max(v);
            let (eu, ev) = ((u - m).exp(), (v - m).exp());
            let s = m + (eu + ev).ln();
            let wu = eu / (eu + ev);
            let k = pts.k[i];
            let r = k * (ad * s - pts.ln_l[i]);
            f += pts.w[i] * huber(r, self.delta);
            let q = pts.w[i] * k * r.clamp(-self.delta, self.delta);
            // d(αD·s)/d ln Nc = αN·wu; /dαN = wu·h; /d ln Dc = αD·(1 − wu); /dαD = s − wu·u.
            g0 += q * an * wu;
            g1 += q * wu * h;
            g2 += q * ad * (1.0 - wu);
            g3 += q * (s - wu * u);
        }
        *g = [g0, g1, g2, g3];
        f
    }
}

fn joint_starts() -> Vec<[f64; 4]> {
    let mut out = Vec::new();
    for nc in [1e9f64, 1e12, 1e15] {
        for dc in [1e9f64, 1e12, 1e15] {
            for an in [0.05, 0.1, 0.3, 0.6] {
                for ad in [0.05, 0.1, 0.3, 0.6] {
                    out.push([nc.ln(), an, dc.ln(), ad]);
                }
            }
        }
    }
    out
}

/// Fits the joint Kaplan form to runs.
pub fn fit(points: &RunPoints, opts: &FitOptions) -> Result<FitFile> {
    const LAW: &str = "kaplan";
    check_count(LAW, points.len(), 4)?;
    check_varies(
        LAW,
        &points.n,
        "N",
        "Nc and alpha_N are not identifiable",
        "add runs at other model sizes, or fit L(D) alone with --x D",
    )?;
    check_varies(
        LAW,
        &points.d,
        "D",
        "Dc and alpha_D are not identifiable",
        "add runs with other token counts, or fit L(N) alone with --x N",
    )?;
    let (noise, k) = run_noise(points);
    let pts = LogPoints::new(&points.n, &points.d, &points.loss).with_k(k);
    let nat = |t: &[f64; 4]| vec![t[0].exp(), t[1], t[2].exp(), t[3]];
    let fitted = |t: &[f64; 4], d: &LogPoints| {
        (0..d.len())
            .map(|i| ln_joint(t, d.ln_n[i], d.ln_d[i]))
            .collect()
    };
    let model = Model {
        law: LAW,
        names: &PARAMS,
        natural: &nat,
        fitted: &fitted,
    };
    let lf = fit_log(
        &model,
        &pts,
        noise.as_ref(),
        &joint_starts(),
        opts,
        |d, p, g| {
            Joint {
                pts: d,
                delta: opts.delta,
            }
            .value_grad(p, g)
        },
    )?;
    let est = nat(&lf.best.params);
    let resid: Vec<f64> = (0..points.len())
        .map(|i| pts.ln_l[i] - predict(&est, points.n[i], points.d[i]).ln())
        .collect();
    let samples = lf.reps.iter().map(nat).collect();
    let mut f = log_fit_file(
        LAW,
        &PARAMS,
        est,
        samples,
        &lf.summary(),
        opts,
        &points.origin,
        &resid,
    );
    put_param_spreads(&mut f);
    Ok(f)
}

/// Fits `L(X) = (Xc/X)^{αX}` to (x, loss) points; parameters are named `Dc, alpha_D` when the x
/// column is `D`, else `Nc, alpha_N`.
pub fn fit_single(points: &XyPoints, opts: &FitOptions) -> Result<FitFile> {
    const LAW: &str = "kaplan";
    let names: [&str; 2] = if points.x_name == "D" {
        ["Dc", "alpha_D"]
    } else {
        ["Nc", "alpha_N"]
    };
    check_count(LAW, points.x.len(), 2)?;
    check_varies(
        LAW,
        &points.x,
        "x",
        "the exponent is undefined",
        "use runs at more than one size",
    )?;
    let (noise, k) = xy_noise(points);
    let pts = LogXy::new(
        points.x.iter().map(|x| x.ln()).collect(),
        points.y.iter().map(|y| y.ln()).collect(),
    )
    .with_k(k);
    // ln L = c0 + c1·ln X with c1 = −αX and c0 = αX·ln Xc.
    let nat = |t: &[f64; 2]| vec![(t[0] / -t[1]).exp(), -t[1]];
    let lf = fit_line(LAW, &names, &nat, &pts, noise.as_ref(), opts)?;
    let est = nat(&lf.best.params);
    let resid: Vec<f64> = (0..points.x.len())
        .map(|i| points.y[i].ln() - predict_single(&est, points.x[i]).ln())
        .collect();
    let samples = lf.reps.iter().map(nat).collect();
    let mut f = log_fit_file(
        LAW,
        &names,
        est,
        samples,
        &lf.summary(),
        opts,
        &points.origin,
        &resid,
    );
    f.data.x = Some(points.x_name.clone());
    f.data.y = Some(points.y_name.clone());
    put_param_spreads(&mut f);
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::normal;
    use rand::{Rng, SeedableRng};

    #[test]
    fn kaplan_recovers_joint_law() {
        // Kaplan et al.'s values: Nc 8.8e13, αN 0.076, Dc 5.4e13, αD 0.095; 0.3 % noise.
        let truth = [8.8e13, 0.076, 5.4e13, 0.095];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (mut n, mut d, mut l) = (vec![], vec![], vec![]);
        for _ in 0..150 {
            let nn = 10f64.powf(6.0 + 4.0 * rng.random::<f64>());
            let dd = 10f64.powf(8.0 + 4.0 * rng.random::<f64>());
            n.push(nn);
            d.push(dd);
            l.push(predict(&truth, nn, dd) * (0.003 * normal(&mut rng)).exp());
        }
        let c = n.iter().zip(&d).map(|(a, b)| 6.0 * a * b).collect();
        let pts = RunPoints {
            n,
            d,
            loss: l,
            c,
            se: None,
            common_se: None,
            origin: crate::data::DataSource {
                source: "synthetic".into(),
                sha256: String::new(),
                skipped: vec![],
            },
        };
        let f = fit(&pts, &FitOptions::default().with_bootstrap(100).unwrap()).unwrap();
        let an = f.param("alpha_N").unwrap();
        let ad = f.param("alpha_D").unwrap();
        assert!((an - 0.076).abs() < 0.006, "alpha_N {an}");
        assert!((ad - 0.095).abs() < 0.006, "alpha_D {ad}");
        assert!(f.residuals.rmse_log < 0.005);
        assert_eq!(f.fit.starts, 144);
    }

    #[test]
    fn kaplan_single_variable_is_exact_on_clean_data() {
        let x: Vec<f64> = (0..10).map(|i| 1e6 * 3f64.powi(i)).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|&x| predict_single(&[8.8e13, 0.076], x))
            .collect();
        let pts = XyPoints {
            x,
            y,
            x_name: "N".into(),
            y_name: "loss".into(),
            x_is_date: false,
            se: None,
            origin: crate::data::DataSource {
                source: "s".into(),
                sha256: String::new(),
                skipped: vec![],
            },
        };
        let f = fit_single(&pts, &FitOptions::default().with_bootstrap(20).unwrap()).unwrap();
        assert!((f.param("alpha_N").unwrap() - 0.076).abs() < 1e-9);
        assert!((f.param("Nc").unwrap() / 8.8e13 - 1.0).abs() < 1e-6);
    }
}
