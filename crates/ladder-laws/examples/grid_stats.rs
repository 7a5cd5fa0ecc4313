//! Per-start statistics of both solvers on a sample of grid starts (development aid).
use ladder_laws::argmin_fit::minimize_argmin;
use ladder_laws::chinchilla::{hoffmann_grid, ChinchillaObjective, LogPoints};
use ladder_laws::solver::{minimize, LbfgsOptions, StopReason};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&args[1]).expect("read csv");
    let (mut n, mut d, mut l) = (vec![], vec![], vec![]);
    for line in text.lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|c| c.trim().parse().unwrap()).collect();
        n.push(v[0]);
        d.push(v[1]);
        l.push(v[2]);
    }
    let pts = LogPoints::new(&n, &d, &l);
    let obj = ChinchillaObjective::new(&pts, 1e-3);
    let grid = hoffmann_grid();
    let step: usize = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(45);
    let (mut hs, mut as_) = (std::collections::BTreeMap::new(), std::collections::BTreeMap::new());
    for (i, x0) in grid.iter().enumerate().step_by(step) {
        let h = minimize(&obj, *x0, &LbfgsOptions::default());
        let a = minimize_argmin(&obj, *x0, 1e-10, 1e-15, 10_000);
        let key = |s: StopReason| match s {
            StopReason::Converged { .. } => "conv",
            StopReason::LineSearchFailed { .. } => "lsfail",
            StopReason::MaxIters => "maxit",
            StopReason::NonFinite { .. } => "nonfinite",
        };
        *hs.entry(key(h.stop)).or_insert(0) += 1;
        *as_.entry(key(a.stop)).or_insert(0) += 1;
        println!("{i:5} hand it {:5} ev {:5} f {:.10e} {:?} | argmin it {:5} ev {:5} f {:.10e} {:?}",
            h.iters, h.evals, h.value, key(h.stop), a.iters, a.evals, a.value, key(a.stop));
    }
    println!("hand {hs:?}\nargmin {as_:?}");
}
