//! The same minimisation through the `argmin` crate (L-BFGS, memory 10, Moré–Thuente line
//! search). Not used by the fits (see [`crate::solver`] for why and `bench/notes-laws.md` for the
//! measurement); kept as an independent check of the hand-written solver and for the benchmark.

use std::cell::RefCell;

use argmin::core::{CostFunction, Error as ArgminError, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

use crate::solver::{Minimum, Objective, StopReason};

/// Adapts an [`Objective`] to argmin's separate cost and gradient calls; the pair is computed once
/// per point and cached, since the line search asks for both at the same parameters.
struct Adapter<'a, const K: usize, O> {
    obj: &'a O,
    cache: RefCell<Option<Cached<K>>>,
}

/// (parameters, value, gradient) of the last evaluation.
type Cached<const K: usize> = ([f64; K], f64, [f64; K]);

impl<const K: usize, O: Objective<K>> Adapter<'_, K, O> {
    fn eval(&self, p: &[f64]) -> (f64, [f64; K]) {
        let mut x = [0.0; K];
        x.copy_from_slice(p);
        if let Some((cx, f, g)) = *self.cache.borrow() {
            if cx == x {
                return (f, g);
            }
        }
        let mut g = [0.0; K];
        let f = self.obj.value_grad(&x, &mut g);
        // argmin's line search has no notion of "undefined here": report +inf as a huge cost.
        let f = if f.is_finite() { f } else { f64::MAX };
        *self.cache.borrow_mut() = Some((x, f, g));
        (f, g)
    }
}

impl<const K: usize, O: Objective<K>> CostFunction for Adapter<'_, K, O> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> Result<f64, ArgminError> {
        Ok(self.eval(p).0)
    }
}

impl<const K: usize, O: Objective<K>> Gradient for Adapter<'_, K, O> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Vec<f64>) -> Result<Vec<f64>, ArgminError> {
        Ok(self.eval(p).1.to_vec())
    }
}

/// Minimises `obj` from `x0` with argmin's L-BFGS (memory 10, Moré–Thuente), gradient tolerance
/// `gtol` on the L2 norm, cost tolerance `ftol` and `max_iters` iterations.
pub fn minimize_argmin<const K: usize, O: Objective<K>>(
    obj: &O,
    x0: [f64; K],
    gtol: f64,
    ftol: f64,
    max_iters: u64,
) -> Minimum<K> {
    let problem = Adapter {
        obj,
        cache: RefCell::new(None),
    };
    let fail = |stop| Minimum {
        params: x0,
        value: f64::NAN,
        iters: 0,
        evals: 0,
        stop,
    };
    let ls = MoreThuenteLineSearch::new();
    let Ok(solver) = LBFGS::new(ls, 10)
        .with_tolerance_grad(gtol)
        .and_then(|s| s.with_tolerance_cost(ftol))
    else {
        return fail(StopReason::MaxIters);
    };
    let res = Executor::new(problem, solver)
        .configure(|s| s.param(x0.to_vec()).max_iters(max_iters))
        .run();
    let Ok(res) = res else {
        return fail(StopReason::NonFinite { iter: 0 });
    };
    let state = res.state();
    let mut params = [0.0; K];
    if let Some(p) = state.get_best_param() {
        params.copy_from_slice(p);
    }
    let mut g = [0.0; K];
    let value = obj.value_grad(&params, &mut g);
    let grad_norm = g.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let stop = match state.get_termination_reason() {
        Some(argmin::core::TerminationReason::SolverConverged) => {
            StopReason::Converged { grad_norm }
        }
        Some(argmin::core::TerminationReason::MaxItersReached) => StopReason::MaxIters,
        _ => StopReason::LineSearchFailed { grad_norm },
    };
    let counts = state.get_func_counts();
    let evals = counts.get("cost_count").copied().unwrap_or(0) as usize;
    Minimum {
        params,
        value,
        iters: state.get_iter() as usize,
        evals,
        stop,
    }
}
