//! Known-answer tests of every [`Backend`] kernel, forward and backward, against the f64
//! references of `ladder_model::kernels::reference`, at several shapes (channel counts that are
//! not multiples of 8 exercise the SIMD remainder paths).
//!
//! Tolerances come from the standard fp32 rounding-error bound (Higham, *Accuracy and Stability
//! of Numerical Algorithms*, §3.1): a value computed with at most `n` rounded operations in a
//! chain (a sum of `n` terms, or `n` multiplies and adds) satisfies |ŷ − y| ≤ γₙ · S, with
//! γₙ = n·u / (1 − n·u), u = 2⁻²⁴ (fp32 unit roundoff), and S the sum of the magnitudes of the
//! terms. Each check states its `n` (the kernel's reduction length plus its elementwise
//! operations; each exp/tanh, which the kernels compute with polynomial approximations accurate
//! to a few ulp, counts as 8) and its `S`:
//! - forward, multilinear kernels (matmul, embedding, residual): S is the f64 reference run on
//!   the absolute values of the inputs, exactly the sum of the term magnitudes;
//! - forward, other kernels: S is the magnitude of the terms bounded through the kernel's
//!   formula (stated at each check), e.g. LayerNorm (|x| + |μ|)·rstd·|w| + |b|;
//! - backward: the gradient is checked along a random direction u: ⟨ĝ, u⟩ against the f64
//!   central difference of Φ(x) = ⟨dy, F(x)⟩ along u (step 1e-5: truncation ~1e-10 and rounding
//!   ~1e-11 relative, far below fp32 errors). The bound is normwise: γₙ · κ · Σ|uᵢ| · ‖ĝ‖∞, with
//!   κ the kernel's cancellation factor (stated at each check), plus 1e-8·|⟨ĝ,u⟩| for the
//!   difference quotient.
//!
//! Worst-case bounds: a healthy kernel's error is typically 10–1000× below them (the ratio is
//! reported), while a broken one (a wrong element, a lost accumulation, a bad mask) is off by
//! far more than the bound.

use ladder_model::kernels::reference as r;
use ladder_model::kernels::rope::table;
use ladder_model::kernels::testing::{rand_vec, to_f64};
use ladder_model::{AdamWHyper, Backend};
use serde::Serialize;

use super::Status;

/// fp32 unit roundoff.
const U: f64 = 1.0 / 16_777_216.0;

/// γₙ.
pub fn gamma(n: usize) -> f64 {
    let nu = n as f64 * U;
    nu / (1.0 - nu)
}

/// One known-answer check.
#[derive(Clone, Debug, Serialize)]
pub struct KatResult {
    /// `kernel.output@shape`.
    pub name: String,
    /// The kernel.
    pub kernel: &'static str,
    /// Largest error (forward: elementwise; backward: the directional derivative's).
    pub err: f64,
    /// The bound it must stay within.
    pub tol: f64,
    /// Pass or fail.
    pub status: Status,
}

/// A shape set.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
    f: usize,
    v: usize,
    vp: usize,
}

/// The shapes: the first only with `quick`.
pub fn shapes(quick: bool) -> Vec<Shape> {
    let all = vec![
        Shape {
            b: 2,
            t: 5,
            c: 12,
            nh: 2,
            f: 20,
            v: 37,
            vp: 64,
        },
        Shape {
            b: 1,
            t: 13,
            c: 40,
            nh: 4,
            f: 72,
            v: 97,
            vp: 128,
        },
        Shape {
            b: 2,
            t: 24,
            c: 64,
            nh: 4,
            f: 172,
            v: 300,
            vp: 320,
        },
    ];
    if quick {
        all[..1].to_vec()
    } else {
        all
    }
}

struct Kat<'a, B: Backend> {
    be: &'a B,
    out: Vec<KatResult>,
    tag: String,
}

fn linf(x: &[f64]) -> f64 {
    x.iter().fold(0.0, |m, v| m.max(v.abs()))
}
fn linf32(x: &[f32]) -> f64 {
    x.iter().fold(0.0, |m, v| m.max(v.abs() as f64))
}
fn abs(x: &[f32]) -> Vec<f64> {
    x.iter().map(|v| v.abs() as f64).collect()
}
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
fn dot32(g: &[f32], u: &[f64]) -> f64 {
    g.iter().zip(u).map(|(&x, y)| x as f64 * y).sum()
}
fn add(x: &[f64], u: &[f64], e: f64) -> Vec<f64> {
    x.iter().zip(u).map(|(a, b)| a + e * b).collect()
}

/// Central difference of `phi` at x along u.
fn dd(x: &[f64], u: &[f64], phi: impl Fn(&[f64]) -> f64) -> f64 {
    let h = 1e-5;
    (phi(&add(x, u, h)) - phi(&add(x, u, -h))) / (2.0 * h)
}

impl<B: Backend> Kat<'_, B> {
    fn push(&mut self, kernel: &'static str, what: &str, err: f64, tol: f64) {
        let ok = err <= tol; // NaN fails
        self.out.push(KatResult {
            name: format!("{kernel}.{what}@{}", self.tag),
            kernel,
            err,
            tol,
            status: if ok { Status::Ok } else { Status::Failed },
        });
    }

    /// Elementwise forward check: max |got − want| ≤ γₙ·S.
    fn fwd(
        &mut self,
        kernel: &'static str,
        what: &str,
        got: &[f32],
        want: &[f64],
        n: usize,
        s: f64,
    ) {
        let err = if got.len() != want.len() {
            f64::INFINITY
        } else {
            got.iter().zip(want).fold(0.0f64, |m, (&g, &w)| {
                let e = (g as f64 - w).abs();
                if e.is_nan() || m.is_nan() {
                    f64::NAN
                } else {
                    m.max(e)
                }
            })
        };
        self.push(kernel, what, err, gamma(n) * s);
    }

    /// Directional backward check (see the module docs).
    #[allow(clippy::too_many_arguments)]
    fn bwd(
        &mut self,
        kernel: &'static str,
        what: &str,
        g: &[f32],
        u: &[f64],
        want: f64,
        n: usize,
        kappa: f64,
    ) {
        let got = dot32(g, u);
        let su: f64 = u.iter().map(|v| v.abs()).sum();
        let tol = gamma(n) * kappa * su * linf32(g) + 1e-8 * got.abs().max(want.abs());
        self.push(kernel, what, (got - want).abs(), tol);
    }
}

/// Runs every check on backend `be` for the given shapes.
pub fn run<B: Backend>(be: &B, shapes: &[Shape]) -> Vec<KatResult> {
    let mut k = Kat {
        be,
        out: Vec::new(),
        tag: String::new(),
    };
    for (si, s) in shapes.iter().enumerate() {
        k.tag = format!("N{}xC{}", s.b * s.t, s.c);
        let seed = 100 * si as u64;
        embedding(&mut k, s, seed);
        norms(&mut k, s, seed + 10);
        matmuls(&mut k, s, seed + 20);
        attention(&mut k, s, seed + 30);
        elementwise(&mut k, s, seed + 40);
        crossentropy(&mut k, s, seed + 50);
        adamw(&mut k, s, seed + 60);
    }
    k.out
}

fn embedding<B: Backend>(k: &mut Kat<'_, B>, s: &Shape, seed: u64) {
    let (n, c, v) = (s.b * s.t, s.c, s.v);
    let toks: Vec<u32> = (0..n).map(|i| ((i * 7 + 3) % v) as u32).collect();
    let wte = rand_vec(v * c, seed, 1.0);
    let wpe = rand_vec(s.t * c, seed + 1, 1.0);
    let mut out = vec![0.0; n * c];
    k.be.embedding_forward(&mut out, &toks, &wte, &wpe, s.t, c);
    let want = r::embedding_forward(&toks, &to_f64(&wte), &to_f64(&wpe), s.t, c);
    // One add: n = 1, S = |wte| + |wpe| (the reference on absolute values).
    let mag = r::embedding_forward(&toks, &abs(&wte), &abs(&wpe), s.t, c);
    k.fwd("embedding_forward", "out", &out, &want, 1, linf(&mag));
    let mut out = vec![0.0; n * c];
    k.be.token_embedding_forward(&mut out, &toks, &wte, c);
    let want: Vec<f64> = toks
        .iter()
        .flat_map(|&t| to_f64(&wte[t as usize * c..(t as usize + 1) * c]))
        .collect();
    // A copy: exact (n = 0).
    k.fwd("token_embedding_forward", "out", &out, &want, 0, 0.0);
    // Backward: Φ = ⟨dy, wte[tok] + wpe[t]⟩. dwte sums up to N rows (n = N), κ = 1 (the terms
    // of one element are the dy values it sums; |ĝ| ≥ their largest only without cancellation,
    // so κ = N/… is avoided by the directional form: Σ over elements of |u|·Σ|terms|).
    let dy = rand_vec(n * c, seed + 2, 1.0);
    let dyd = to_f64(&dy);
    let (mut dwte, mut dwpe) = (vec![0.0; v * c], vec![0.0; s.t * c]);
    k.be.embedding_backward(&mut dwte, &mut dwpe, &dy, &toks, s.t, c);
    let (uw, up) = (
        to_f64(&rand_vec(v * c, seed + 3, 1.0)),
        to_f64(&rand_vec(s.t * c, seed + 4, 1.0)),
    );
    let (wd, pd) = (to_f64(&wte), to_f64(&wpe));
    let want = dd(&wd, &uw, |w| {
        dot(&dyd, &r::embedding_forward(&toks, w, &pd, s.t, c))
    });
    let kappa = (n as f64).sqrt().max(1.0);
    k.bwd("embedding_backward", "dwte", &dwte, &uw, want, n, kappa);
    let want = dd(&pd, &up, |p| {
        dot(&dyd, &r::embedding_forward(&toks, &wd, p, s.t, c))
    });
    k.bwd("embedding_backward", "dwpe", &dwpe, &up, want, n, kappa);
    let mut dwte = vec![0.0; v * c];
    k.be.token_embedding_backward(&mut dwte, &dy, &toks, c);
    let zero = vec![0.0; s.t * c];
    let want = dd(&wd, &uw, |w| {
        dot(&dyd, &r::embedding_forward(&toks, w, &zero, s.t, c))
    });
    k.bwd(
        "token_embedding_backward",
        "dwte",
        &dwte,
        &uw,
        want,
        n,
        kappa,
    );
}

fn norms<B: Backend>(k: &mut Kat<'_, B>, s: &Shape, seed: u64) {
    let (n, c) = (s.b * s.t, s.c);
    let mut x = rand_vec(n * c, seed, 2.0);
    x.iter_mut()
        .enumerate()
        .for_each(|(i, v)| *v += (i / c) as f32 * 0.5);
    let w: Vec<f32> = rand_vec(c, seed + 1, 0.5).iter().map(|v| v + 1.0).collect();
    let b = rand_vec(c, seed + 2, 0.5);
    let (xd, wd, bd) = (to_f64(&x), to_f64(&w), to_f64(&b));
    let (mut y, mut mean, mut rstd) = (vec![0.0; n * c], vec![0.0; n], vec![0.0; n]);
    k.be.layernorm_forward(&mut y, &mut mean, &mut rstd, &x, &w, &b);
    let want = r::layernorm_forward(&xd, &wd, &bd, c);
    // n = 2C + 8 (mean and variance sums, then centre, scale, shift, sqrt, divide);
    // S = (|x| + |μ|)·rstd·|w| + |b| per row (the centring's terms, scaled by the normalisation).
    let mut sm = 0.0f64;
    for row in xd.chunks(c) {
        let mu = row.iter().sum::<f64>() / c as f64;
        let var = row.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / c as f64;
        let rs = 1.0 / (var + 1e-5).sqrt();
        sm = sm.max((linf(row) + mu.abs()) * rs * linf(&wd) + linf(&bd));
    }
    k.fwd("layernorm_forward", "y", &y, &want, 2 * c + 8, sm);
    let dy = rand_vec(n * c, seed + 3, 1.0);
    let dyd = to_f64(&dy);
    let (mut dx, mut dw, mut db) = (vec![0.0; n * c], vec![0.0; c], vec![0.0; c]);
    k.be.layernorm_backward(&mut dx, &mut dw, &mut db, &dy, &x, &w, &mean, &rstd);
    let ux = to_f64(&rand_vec(n * c, seed + 4, 1.0));
    let uw = to_f64(&rand_vec(c, seed + 5, 1.0));
    // dx: two row reductions over C (n = 2C + 10); κ = √C bounds |x̂| (a normalised row has
    // ‖x̂‖₂ = √C), the factor by which the reductions' terms can exceed the result.
    let kc = (c as f64).sqrt();
    let want = dd(&xd, &ux, |x| {
        dot(&dyd, &r::layernorm_forward(x, &wd, &bd, c))
    });
    k.bwd("layernorm_backward", "dx", &dx, &ux, want, 2 * c + 10, kc);
    // dw, db: sums over N rows (n = N + 4), same κ.
    let want = dd(&wd, &uw, |w| {
        dot(&dyd, &r::layernorm_forward(&xd, w, &bd, c))
    });
    k.bwd(
        "layernorm_backward",
        "dw",
        &dw,
        &uw,
        want,
        n + 4,
        kc * (n as f64).sqrt(),
    );
    let want = dd(&bd, &uw, |b| {
        dot(&dyd, &r::layernorm_forward(&xd, &wd, b, c))
    });
    k.bwd(
        "layernorm_backward",
        "db",
        &db,
        &uw,
        want,
        n + 4,
        (n as f64).sqrt(),
    );

    let eps = 1e-5f32;
    let (mut y, mut rstd) = (vec![0.0; n * c], vec![0.0; n]);
    k.be.rmsnorm_forward(&mut y, &mut rstd, &x, &w, eps);
    let want = r::rmsnorm_forward(&xd, &wd, eps as f64, c);
    // n = C + 6; S = |x|·rstd·|w| (no centring).
    let sm = xd
        .chunks(c)
        .map(|row| {
            let rs = 1.0 / (row.iter().map(|v| v * v).sum::<f64>() / c as f64 + 1e-5).sqrt();
            linf(row) * rs * linf(&wd)
        })
        .fold(0.0, f64::max);
    k.fwd("rmsnorm_forward", "y", &y, &want, c + 6, sm);
    let (mut dx, mut dw) = (vec![0.0; n * c], vec![0.0; c]);
    k.be.rmsnorm_backward(&mut dx, &mut dw, &dy, &x, &w, &rstd);
    let want = dd(&xd, &ux, |x| {
        dot(&dyd, &r::rmsnorm_forward(x, &wd, eps as f64, c))
    });
    k.bwd("rmsnorm_backward", "dx", &dx, &ux, want, c + 10, kc);
    let want = dd(&wd, &uw, |w| {
        dot(&dyd, &r::rmsnorm_forward(&xd, w, eps as f64, c))
    });
    k.bwd(
        "rmsnorm_backward",
        "dw",
        &dw,
        &uw,
        want,
        n + 4,
        kc * (n as f64).sqrt(),
    );
}

fn matmuls<B: Backend>(k: &mut Kat<'_, B>, s: &Shape, seed: u64) {
    let n = s.b * s.t;
    let (ic, oc) = (s.c, s.f);
    let inp = rand_vec(n * ic, seed, 1.0);
    let w = rand_vec(ic * oc, seed + 1, 1.0);
    let bias = rand_vec(oc, seed + 2, 1.0);
    let resid = rand_vec(n * oc, seed + 3, 1.0);
    let (id, wd, bd, rd) = (to_f64(&inp), to_f64(&w), to_f64(&bias), to_f64(&resid));
    let (ia, wa, ba, ra) = (abs(&inp), abs(&w), abs(&bias), abs(&resid));
    // Multilinear: n = IC (+1 bias, +1 residual), S = the reference on absolute values.
    let mut out = vec![0.0; n * oc];
    k.be.matmul_forward(&mut out, &inp, &w, Some(&bias), ic, oc);
    let want = r::matmul_forward(&id, &wd, Some(&bd), ic, oc);
    let mag = r::matmul_forward(&ia, &wa, Some(&ba), ic, oc);
    k.fwd("matmul_forward", "out", &out, &want, ic + 1, linf(&mag));
    k.be.matmul_forward_residual(&mut out, &resid, &inp, &w, Some(&bias), ic, oc);
    let want = r::residual_forward(&rd, &want);
    let mag = r::residual_forward(&ra, &mag);
    k.fwd(
        "matmul_forward_residual",
        "out",
        &out,
        &want,
        ic + 2,
        linf(&mag),
    );
    // nt: w (OC, IC).
    let wt = rand_vec(oc * ic, seed + 4, 1.0);
    let (wtd, wta) = (to_f64(&wt), abs(&wt));
    k.be.matmul_nt_forward(&mut out, &inp, &wt, ic, oc);
    let want = r::linear_forward(&id, &wtd, ic, oc);
    let mag = r::linear_forward(&ia, &wta, ic, oc);
    k.fwd("matmul_nt_forward", "out", &out, &want, ic, linf(&mag));
    k.be.matmul_nt_forward_residual(&mut out, &resid, &inp, &wt, ic, oc);
    let want = r::residual_forward(&rd, &want);
    let mag = r::residual_forward(&ra, &mag);
    k.fwd(
        "matmul_nt_forward_residual",
        "out",
        &out,
        &want,
        ic + 1,
        linf(&mag),
    );
    // Backward. κ = √(reduction length): random-sign terms of a length-m sum have magnitude sum
    // up to √m times the result's typical size.
    let dout = rand_vec(n * oc, seed + 5, 1.0);
    let dd_ = to_f64(&dout);
    let ui = to_f64(&rand_vec(n * ic, seed + 6, 1.0));
    let uw = to_f64(&rand_vec(ic * oc, seed + 7, 1.0));
    let ub = to_f64(&rand_vec(oc, seed + 8, 1.0));
    let mut dinp = vec![0.0; n * ic];
    k.be.matmul_backward_input(&mut dinp, &dout, &w, ic, oc, false);
    let want = dd(&id, &ui, |x| {
        dot(&dd_, &r::matmul_forward(x, &wd, None, ic, oc))
    });
    k.bwd(
        "matmul_backward_input",
        "dinp",
        &dinp,
        &ui,
        want,
        oc,
        (oc as f64).sqrt(),
    );
    let (mut dw, mut db) = (vec![0.0; ic * oc], vec![0.0; oc]);
    k.be.matmul_backward_weight(&mut dw, Some(&mut db), &dout, &inp, ic, oc);
    let want = dd(&wd, &uw, |w| {
        dot(&dd_, &r::matmul_forward(&id, w, None, ic, oc))
    });
    k.bwd(
        "matmul_backward_weight",
        "dw",
        &dw,
        &uw,
        want,
        n + 1,
        (n as f64).sqrt(),
    );
    let want = dd(&bd, &ub, |b| {
        dot(&dd_, &r::matmul_forward(&id, &wd, Some(b), ic, oc))
    });
    k.bwd(
        "matmul_backward_weight",
        "dbias",
        &db,
        &ub,
        want,
        n + 1,
        (n as f64).sqrt(),
    );
    let (mut dinp, mut dw) = (vec![0.0; n * ic], vec![0.0; oc * ic]);
    let mut scratch = vec![0.0; ic * oc];
    k.be.matmul_nt_backward(
        &mut dinp,
        &mut dw,
        Some(&mut scratch),
        &dout,
        &inp,
        &wt,
        ic,
        oc,
        false,
    );
    let want = dd(&id, &ui, |x| dot(&dd_, &r::linear_forward(x, &wtd, ic, oc)));
    k.bwd(
        "matmul_nt_backward",
        "dinp",
        &dinp,
        &ui,
        want,
        oc,
        (oc as f64).sqrt(),
    );
    let want = dd(&wtd, &uw, |w| dot(&dd_, &r::linear_forward(&id, w, ic, oc)));
    k.bwd(
        "matmul_nt_backward",
        "dw",
        &dw,
        &uw,
        want,
        n + 1,
        (n as f64).sqrt(),
    );
}

fn attention<B: Backend>(k: &mut Kat<'_, B>, s: &Shape, seed: u64) {
    let (b, t, c, nh) = (s.b, s.t, s.c, s.nh);
    let n = b * t;
    let hs = c / nh;
    let qkv = rand_vec(n * 3 * c, seed, 1.0);
    let qd = to_f64(&qkv);
    let (mut y, mut att) = (vec![0.0; n * c], vec![0.0; b * nh * t * t]);
    k.be.attention_forward(&mut y, &mut att, &qkv, b, t, c, nh, 0);
    let want = r::attention_forward(&qd, b, t, c, nh);
    // n = HS + T + 18 (score dot, softmax sum, p·v sum, exp); the score errors (γ·Σ|q||k|/√HS)
    // move p by a relative 2·δs, so S = ‖v‖∞ · (1 + 2·max Σ|q||k|/√HS).
    let (q, kk) = (&qd, &qd);
    let mut ms = 0.0f64;
    for bi in 0..b {
        for ti in 0..t {
            for si in 0..t {
                for h in 0..nh {
                    let sum: f64 = (0..hs)
                        .map(|i| {
                            (q[(bi * t + ti) * 3 * c + h * hs + i]
                                * kk[(bi * t + si) * 3 * c + c + h * hs + i])
                                .abs()
                        })
                        .sum();
                    ms = ms.max(sum / (hs as f64).sqrt());
                }
            }
        }
    }
    let vmax = qd
        .chunks(3 * c)
        .map(|row| linf(&row[2 * c..]))
        .fold(0.0, f64::max);
    k.fwd(
        "attention_forward",
        "y",
        &y,
        &want,
        hs + t + 18,
        vmax * (1.0 + 2.0 * ms),
    );
    let dy = rand_vec(n * c, seed + 1, 1.0);
    let dyd = to_f64(&dy);
    let (mut dqkv, mut datt) = (vec![0.0; n * 3 * c], vec![0.0; b * nh * t * t]);
    k.be.attention_backward(&mut dqkv, &mut datt, &dy, &qkv, &att, b, t, c, nh, false, 0);
    let u = to_f64(&rand_vec(n * 3 * c, seed + 2, 1.0));
    let want = dd(&qd, &u, |x| {
        dot(&dyd, &r::attention_forward(x, b, t, c, nh))
    });
    // n = HS + T + 20; κ = √T·(1 + 2·max score) (a softmax backward sums T terms whose size the
    // scores can amplify).
    k.bwd(
        "attention_backward",
        "dqkv",
        &dqkv,
        &u,
        want,
        hs + t + 20,
        (t as f64).sqrt() * (1.0 + 2.0 * ms),
    );
}

fn elementwise<B: Backend>(k: &mut Kat<'_, B>, s: &Shape, seed: u64) {
    let (n, c, f) = (s.b * s.t, s.c, s.f);
    // GELU: n = 10 + 8 (tanh); S = |x|·(1 + |z|), z the tanh argument (its error moves y by
    // 0.5·|x|·|δz|).
    let x = rand_vec(n * f, seed, 3.0);
    let xd = to_f64(&x);
    let mut y = vec![0.0; n * f];
    k.be.gelu_forward(&mut y, &x);
    let want = r::gelu_forward(&xd);
    let sz = xd
        .iter()
        .map(|v| v.abs() * (1.0 + 0.8 * (v.abs() + 0.045 * v.abs().powi(3))))
        .fold(0.0, f64::max);
    k.fwd("gelu_forward", "y", &y, &want, 18, sz);
    let dy = rand_vec(n * f, seed + 1, 1.0);
    let dyd = to_f64(&dy);
    let mut d = dy.clone();
    k.be.gelu_backward_inplace(&mut d, &x);
    let u = to_f64(&rand_vec(n * f, seed + 2, 1.0));
    let want = dd(&xd, &u, |x| dot(&dyd, &r::gelu_forward(x)));
    k.bwd("gelu_backward", "dx", &d, &u, want, 24, 1.0 + sz);
    // SwiGLU: n = 6 + 8 (exp); S = |g|·|u|·(1 + |g|).
    let gu = rand_vec(n * 2 * f, seed + 3, 2.0);
    let gd = to_f64(&gu);
    let mut h = vec![0.0; n * f];
    k.be.swiglu_forward(&mut h, &gu, f);
    let want = r::swiglu_forward(&gd, f);
    let sm = gd
        .chunks(2 * f)
        .flat_map(|row| (0..f).map(move |i| row[i].abs() * row[f + i].abs() * (1.0 + row[i].abs())))
        .fold(0.0, f64::max);
    k.fwd("swiglu_forward", "h", &h, &want, 14, sm);
    let mut dgu = vec![0.0; n * 2 * f];
    k.be.swiglu_backward(&mut dgu, &dy, &gu, f);
    let u = to_f64(&rand_vec(n * 2 * f, seed + 4, 1.0));
    let want = dd(&gd, &u, |g| dot(&dyd, &r::swiglu_forward(g, f)));
    k.bwd("swiglu_backward", "dgu", &dgu, &u, want, 20, 2.0 + sm);
    // RoPE: out = a·cos − b·sin with tables rounded to f32: n = 5; S = |a| + |b|.
    let (nh, t) = (s.nh, s.t);
    let theta = 10000.0;
    let (cos, sin) = table(theta, c / nh, t);
    let qkv = rand_vec(n * 3 * c, seed + 5, 1.0);
    let qd = to_f64(&qkv);
    let mut rot = qkv.clone();
    k.be.rope_forward(&mut rot, &cos, &sin, t, c, nh, 0);
    let want = r::rope_forward(&qd, t, c, nh, theta, 0);
    k.fwd("rope_forward", "qkv", &rot, &want, 5, 2.0 * linf(&qd));
    let dq = rand_vec(n * 3 * c, seed + 6, 1.0);
    let dqd = to_f64(&dq);
    let mut d = dq.clone();
    k.be.rope_backward(&mut d, &cos, &sin, t, c, nh, 0);
    let u = to_f64(&rand_vec(n * 3 * c, seed + 7, 1.0));
    let want = dd(&qd, &u, |x| {
        dot(&dqd, &r::rope_forward(x, t, c, nh, theta, 0))
    });
    k.bwd("rope_backward", "dqkv", &d, &u, want, 5, 2.0);
    // Residual: one add, S = |a| + |b|.
    let (a, bb) = (
        rand_vec(n * c, seed + 8, 1.0),
        rand_vec(n * c, seed + 9, 1.0),
    );
    let mut out = vec![0.0; n * c];
    k.be.residual_forward(&mut out, &a, &bb);
    let want = r::residual_forward(&to_f64(&a), &to_f64(&bb));
    let mag = r::residual_forward(&abs(&a), &abs(&bb));
    k.fwd("residual_forward", "out", &out, &want, 1, linf(&mag));
}

fn crossentropy<B: Backend>(k: &mut Kat<'_, B>, s: &Shape, seed: u64) {
    let (n, v, vp) = (s.b * s.t, s.v, s.vp);
    let mut logits = rand_vec(n * vp, seed, 4.0);
    for row in logits.chunks_mut(vp) {
        row[v..].iter_mut().for_each(|x| *x = 0.0);
    }
    let targets: Vec<u32> = (0..n).map(|i| ((i * 13 + 1) % v) as u32).collect();
    let ld = to_f64(&logits);
    let mut losses = vec![0.0; n];
    k.be.crossentropy_forward(&mut losses, &logits, &targets, v);
    let want = r::crossentropy_forward(&ld, &targets, v, vp);
    // n = V + 8 (exp) + 4 (max, log, subtract); S = 1 + |max| + |x_target| (the log-sum-exp's
    // sum is relative to 1 after the max shift; the final subtraction's operands).
    let sm = ld
        .chunks(vp)
        .zip(&targets)
        .map(|(row, &y)| 1.0 + linf(&row[..v]) + row[y as usize].abs())
        .fold(0.0, f64::max);
    k.fwd("crossentropy_forward", "losses", &losses, &want, v + 12, sm);
    let (mut dl, mut losses2) = (vec![0.0; n * vp], vec![0.0; n]);
    let dloss = 1.0 / n as f32;
    k.be.crossentropy_forward_backward(&mut dl, &mut losses2, &logits, &targets, v, dloss);
    k.fwd(
        "crossentropy_forward_backward",
        "losses",
        &losses2,
        &want,
        v + 12,
        sm,
    );
    let u = to_f64(&rand_vec(n * vp, seed + 1, 1.0));
    let want = dd(&ld, &u, |x| {
        r::crossentropy_forward(x, &targets, v, vp)
            .iter()
            .sum::<f64>()
            * dloss as f64
    });
    // Each dlogit = dloss·(softmax − onehot): n = V + 14; κ = 2 (|softmax − onehot| ≤ 1 per
    // entry, the softmax's sum is 1).
    k.bwd(
        "crossentropy_forward_backward",
        "dlogits",
        &dl,
        &u,
        want,
        v + 14,
        2.0,
    );
}

fn adamw<B: Backend>(k: &mut Kat<'_, B>, s: &Shape, seed: u64) {
    let len = s.b * s.t * s.c + 7;
    let mut p = rand_vec(len, seed, 1.0);
    let g = rand_vec(len, seed + 1, 1.0);
    let mut m = rand_vec(len, seed + 2, 0.1);
    let mut v: Vec<f32> = rand_vec(len, seed + 3, 0.1)
        .iter()
        .map(|x| x.abs() + 0.01)
        .collect();
    let h = AdamWHyper {
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        step_size: 3e-4 / (1.0 - 0.9f32.powi(3)),
        bc2_sqrt: (1.0 - 0.95f64.powi(3)).sqrt() as f32,
        decay: 1.0 - 3e-4 * 0.1,
    };
    let (p0, m0, v0) = (to_f64(&p), to_f64(&m), to_f64(&v));
    k.be.adamw_update(&mut p, &g, &mut m, &mut v, h);
    let (b1, b2) = (h.beta1 as f64, h.beta2 as f64);
    let (mut wp, mut sm) = (Vec::with_capacity(len), 0.0f64);
    for i in 0..len {
        let gi = g[i] as f64;
        let mi = m0[i] + (1.0 - b1) * (gi - m0[i]);
        let vi = b2 * v0[i] + (1.0 - b2) * gi * gi;
        let upd = h.step_size as f64 * mi / (vi.sqrt() / h.bc2_sqrt as f64 + h.eps as f64);
        wp.push(p0[i] * h.decay as f64 - upd);
        sm = sm.max(p0[i].abs() + upd.abs());
    }
    // n = 16 (the update's chain: moments, sqrt, divisions, multiply-adds); S = |p| + |update|.
    k.fwd("adamw_update", "p", &p, &wp, 16, sm);
}
