//! Probe of the `gemm` crate on the model's shapes: single-threaded vs `Parallelism::Rayon`,
//! overwrite vs accumulate, row-major vs transposed operands. GFLOP/s from CPU time and wall time.
//! Usage: cargo run --release -p ladder-model --example gemm_probe

use std::time::Instant;

fn cpu_ns() -> u64 {
    let mut total = 0;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for e in dir.flatten() {
            if let Ok(s) = std::fs::read_to_string(e.path().join("schedstat")) {
                total += s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    total
}

#[allow(clippy::too_many_arguments)]
fn run(
    name: &str,
    m: usize,
    n: usize,
    k: usize,
    a_t: bool,
    b_t: bool,
    acc: bool,
    par: gemm::Parallelism,
) {
    let a = vec![0.5f32; m * k];
    let b = vec![0.25f32; k * n];
    let mut d = vec![0.0f32; m * n];
    let (a_rs, a_cs) = if a_t {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (b_rs, b_cs) = if b_t {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    let split = matches!(par, gemm::Parallelism::Rayon(0));
    let par = if split { gemm::Parallelism::None } else { par };
    let (ap, bp) = (a.as_ptr() as usize, b.as_ptr() as usize);
    let mut f = || unsafe {
        if split {
            // Our scheme: the larger output dimension in two halves, one single-threaded gemm each.
            let dp = d.as_mut_ptr() as usize;
            let g = |r0: usize, r1: usize| {
                let (ap, bp, dp) = (ap as *const f32, bp as *const f32, dp as *mut f32);
                if m >= n {
                    gemm::gemm(
                        r1 - r0,
                        n,
                        k,
                        dp.add(r0 * n),
                        1,
                        n as isize,
                        acc,
                        ap.offset(r0 as isize * a_rs),
                        a_cs,
                        a_rs,
                        bp,
                        b_cs,
                        b_rs,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        par,
                    )
                } else {
                    gemm::gemm(
                        m,
                        r1 - r0,
                        k,
                        dp.add(r0),
                        1,
                        n as isize,
                        acc,
                        ap,
                        a_cs,
                        a_rs,
                        bp.offset(r0 as isize * b_cs),
                        b_cs,
                        b_rs,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        par,
                    )
                }
            };
            let h = m.max(n) / 2;
            rayon::join(|| g(0, h), || g(h, m.max(n)));
        } else {
            gemm::gemm(
                m,
                n,
                k,
                d.as_mut_ptr(),
                1,
                n as isize,
                acc,
                a.as_ptr(),
                a_cs,
                a_rs,
                b.as_ptr(),
                b_cs,
                b_rs,
                1.0,
                1.0,
                false,
                false,
                false,
                par,
            )
        }
    };
    f();
    let mut best_wall = f64::INFINITY;
    let mut best_cpu = f64::INFINITY;
    for _ in 0..50 {
        let c0 = cpu_ns();
        let t0 = Instant::now();
        f();
        best_wall = best_wall.min(t0.elapsed().as_secs_f64());
        best_cpu = best_cpu.min((cpu_ns() - c0) as f64 / 1e9);
    }
    let fl = 2.0 * (m * n * k) as f64 / 1e9;
    println!("{name:<34} {m:>5}x{k:>5}x{n:>5} a_t={a_t:<5} b_t={b_t:<5} acc={acc:<5} wall {:6.1} GF/s ({:8.1} us)  cpu {:6.1} GF/s", fl / best_wall, best_wall * 1e6, fl / best_cpu);
}

fn main() {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global()
        .unwrap();
    use gemm::Parallelism::{None as One, Rayon};
    for (name, m, n, k, at, bt) in [
        ("qkv fwd", 2048, 768, 256, false, false),
        ("fc fwd", 2048, 1024, 256, false, false),
        ("fcproj fwd", 2048, 256, 1024, false, false),
        ("fcproj dinp (dout.wT)", 2048, 1024, 256, false, true),
        ("fc dw (inpT.dout)", 256, 1024, 2048, true, false),
        ("lm head fwd", 2048, 8192, 256, false, true),
        ("lm head dx", 2048, 256, 8192, false, false),
        ("lm head dwte", 8192, 256, 2048, true, false),
        ("lm head dwte^T", 256, 8192, 2048, true, false),
        ("fcproj dw", 1024, 256, 2048, true, false),
        ("fcproj dw^T", 256, 1024, 2048, true, false),
        ("M fcproj dw", 1536, 384, 2048, true, false),
        ("M fcproj dw^T", 384, 1536, 2048, true, false),
        ("M lm head dwte", 8192, 384, 2048, true, false),
        ("M lm head dwte^T", 384, 8192, 2048, true, false),
        ("attn qk^T tile32", 32, 256, 64, false, true),
        ("attn qk^T tile64", 64, 256, 64, false, true),
        ("attn pv tile32", 32, 64, 256, false, false),
        ("attn dk tile32", 32, 64, 256, true, false),
        ("attn qk^T full", 256, 256, 64, false, true),
        ("attn qk^T 128", 128, 128, 64, false, true),
        ("attn pv full", 256, 64, 256, false, false),
        ("attn tiny 8", 8, 8, 8, false, false),
        ("attn qk via Kt tile32", 32, 256, 64, false, false),
        ("attn qk orig tile32", 32, 256, 64, false, true),
        ("attn qk via Kt tile64", 64, 256, 64, false, false),
        ("attn dq tile32", 32, 64, 256, false, false),
    ] {
        if std::env::args().nth(1).is_some_and(|f| !name.contains(&f)) {
            continue;
        }
        run(name, m, n, k, at, bt, false, One);
        run(name, m, n, k, at, bt, true, One);
        run(name, m, n, k, at, bt, true, Rayon(2));
        run(&format!("{name} split2"), m, n, k, at, bt, true, Rayon(0));
    }
}
