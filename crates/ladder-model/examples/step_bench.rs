//! Training-step throughput: zero grads, forward + backward, grad-norm clip, AdamW, on random
//! tokens; the side-by-side counterpart of `../shared/reference/torch_bench.py`.
//!
//! Usage: cargo run --release -p ladder-model --example step_bench -- \
//!            --cfg S|M [--threads 2] [--steps 13] [--warmup 3] [--batch 8] [--seq 256] [--vocab 8192]
//!            [--kernels]   (also time each kernel of one step at these shapes)
//! Prints one `RESULT {json}` line: median ms/step over the steps after warm-up, tok/s, GFLOP/s
//! with FLOPs from `ModelConfig::train_flops_per_token` (6·(N + V·C) + 12·L·T·C).

use std::time::Instant;

use ladder_model::kernels::{attention, crossentropy, gelu, layernorm, matmul};
use ladder_model::{clip_grad_norm, init_params, AdamW, ModelConfig, ParamLayout, Workspace};

struct Args {
    cfg: String,
    threads: usize,
    steps: usize,
    warmup: usize,
    batch: usize,
    seq: usize,
    vocab: usize,
    kernels: bool,
    filter: String,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        cfg: "S".into(),
        threads: 2,
        steps: 13,
        warmup: 3,
        batch: 8,
        seq: 256,
        vocab: 8192,
        kernels: false,
        filter: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--kernels" {
            a.kernels = true;
            continue;
        }
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        let num = || v.parse::<usize>().map_err(|e| format!("{k} {v}: {e}"));
        match k.as_str() {
            "--cfg" => a.cfg = v.clone(),
            "--threads" => a.threads = num()?,
            "--steps" => a.steps = num()?,
            "--warmup" => a.warmup = num()?,
            "--batch" => a.batch = num()?,
            "--seq" => a.seq = num()?,
            "--vocab" => a.vocab = num()?,
            "--filter" => a.filter = v.clone(),
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    if a.steps <= a.warmup {
        return Err("--steps must exceed --warmup".into());
    }
    Ok(a)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn main() {
    let a = parse().unwrap_or_else(|e| {
        eprintln!("step_bench: {e}");
        std::process::exit(2)
    });
    let (l, c, nh) = match a.cfg.as_str() {
        "S" => (4, 256, 4),
        "M" => (6, 384, 6),
        "tiny" => (2, 64, 2),
        other => {
            eprintln!("step_bench: unknown --cfg {other} (S, M or tiny)");
            std::process::exit(2)
        }
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads)
        .build_global()
        .expect("rayon pool");
    let cfg = ModelConfig {
        n_layer: l,
        n_embd: c,
        n_head: nh,
        block_size: a.seq,
        vocab_size: a.vocab,
        ..ModelConfig::default()
    };
    let layout = ParamLayout::new(&cfg);
    let mut params = init_params(&cfg, 0);
    let mut grads = vec![0.0f32; layout.len];
    let mut opt = AdamW::new(&layout);
    let mut ws = Workspace::new(&cfg, a.batch, a.seq).expect("workspace");
    // Random tokens (SplitMix64), like torch_bench.py's torch.randint.
    let mut s = 1u64;
    let mut next = || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % a.vocab as u64) as u32
    };
    let data: Vec<u32> = (0..a.batch * (a.seq + 1)).map(|_| next()).collect();
    let (mut inp, mut tgt) = (Vec::new(), Vec::new());
    for row in data.chunks(a.seq + 1) {
        inp.extend_from_slice(&row[..a.seq]);
        tgt.extend_from_slice(&row[1..]);
    }
    let mut times = Vec::new();
    let mut cpu_times = Vec::new();
    for step in 0..a.steps {
        let c0 = cpu_ns();
        let t0 = Instant::now();
        grads.fill(0.0);
        let loss = ws
            .forward_backward(&params, &mut grads, &inp, &tgt, 1.0)
            .expect("step");
        clip_grad_norm(&mut grads, 1.0);
        opt.step(&layout, &mut params, &grads, 3e-4, 0.1);
        let dt = t0.elapsed().as_secs_f64();
        cpu_times.push((cpu_ns() - c0) as f64 / 1e9);
        eprintln!("step {step}: loss {loss:.4} {:.1} ms", dt * 1e3);
        times.push(dt);
    }
    let timed = times[a.warmup..].to_vec();
    // CPU seconds of all threads per step: on a busy shared machine, cpu/threads is a lower
    // bound of the wall time the step would take on idle cores.
    let cpu_med = median(cpu_times[a.warmup..].to_vec());
    let med = median(timed.clone());
    let tok = (a.batch * a.seq) as f64;
    let fpt = cfg.train_flops_per_token(a.seq);
    println!(
        "RESULT {{\"impl\": \"ladder\", \"cfg\": \"{}\", \"threads\": {}, \"median_ms\": {:.1}, \"min_ms\": {:.1}, \"max_ms\": {:.1}, \"tok_per_s\": {:.0}, \"gflops\": {:.1}, \"flops_per_tok\": {}, \"steps_timed\": {}, \"cpu_ms_per_step\": {:.1}}}",
        a.cfg,
        a.threads,
        med * 1e3,
        timed.iter().cloned().fold(f64::INFINITY, f64::min) * 1e3,
        timed.iter().cloned().fold(0.0, f64::max) * 1e3,
        tok / med,
        fpt * tok / med / 1e9,
        fpt,
        timed.len(),
        cpu_med * 1e3
    );
    if a.kernels {
        kernel_times(
            &cfg, a.batch, a.seq, &params, &mut grads, &mut opt, &layout, &a.filter,
        );
    }
}

/// On-CPU nanoseconds of all threads of this process (sum of /proc/self/task/*/schedstat): less
/// sensitive than wall time to other processes on a shared machine.
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

/// Times each kernel once per layer-equivalent at the step's shapes (median of 5): wall ms and
/// CPU ms (all threads).
#[allow(clippy::too_many_arguments)]
fn kernel_times(
    cfg: &ModelConfig,
    b: usize,
    t: usize,
    params: &[f32],
    grads: &mut [f32],
    opt: &mut AdamW,
    layout: &ParamLayout,
    filter: &str,
) {
    let (c, nh, l) = (cfg.n_embd, cfg.n_head, cfg.n_layer);
    let vp = cfg.padded_vocab_size();
    let n = b * t;
    let r = |len: usize, seed: u64| ladder_model::kernels::testing::rand_vec(len, seed, 1.0);
    let time = |name: &str, per_step: usize, f: &mut dyn FnMut()| {
        if !name.contains(filter) {
            return 0.0;
        }
        f();
        let (mut walls, mut cpus) = (Vec::new(), Vec::new());
        for _ in 0..9 {
            let c0 = cpu_ns();
            let t0 = Instant::now();
            f();
            walls.push(t0.elapsed().as_secs_f64() * 1e3);
            cpus.push((cpu_ns() - c0) as f64 / 1e6);
        }
        let (ms, cpu) = (median(walls), median(cpus));
        println!(
            "  {name:<28} {ms:8.2} ms (cpu {cpu:8.2}) x{per_step:<2} = {:8.1} ms/step",
            ms * per_step as f64
        );
        ms * per_step as f64
    };
    let mut total = 0.0;
    let (x, y) = (r(n * 4 * c, 1), r(n * 4 * c, 2));
    let mut out = vec![0.0f32; n * 4 * c];
    let w = r(4 * c * c, 3);
    let mut dw = vec![0.0f32; 4 * c * c];
    for (name, ic, oc) in [
        ("qkv", c, 3 * c),
        ("attproj", c, c),
        ("fc", c, 4 * c),
        ("fcproj", 4 * c, c),
    ] {
        total += time(&format!("matmul fwd {name}"), l, &mut || {
            matmul::forward(
                &mut out[..n * oc],
                &x[..n * ic],
                &w[..ic * oc],
                Some(&y[..oc]),
                ic,
                oc,
            )
        });
        let mut din = vec![0.0f32; n * ic];
        total += time(&format!("matmul bwd {name}"), l, &mut || {
            matmul::backward(
                &mut din,
                &mut dw[..ic * oc],
                None,
                &y[..n * oc],
                &x[..n * ic],
                &w[..ic * oc],
                ic,
                oc,
            )
        });
    }
    let wte = &params[..vp * c];
    let mut logits = vec![0.0f32; n * vp];
    let mut dlogits = vec![0.0f32; n * vp];
    total += time("lm head fwd", 1, &mut || {
        matmul::forward_nt(&mut logits, &x[..n * c], wte, c, vp)
    });
    let tg: Vec<u32> = (0..n).map(|i| (i * 7 % cfg.vocab_size) as u32).collect();
    let mut losses = vec![0.0f32; n];
    total += time("softmax+CE fwd+bwd", 1, &mut || {
        crossentropy::forward_backward(
            &mut dlogits,
            &mut losses,
            &logits,
            &tg,
            cfg.vocab_size,
            1.0 / n as f32,
        )
    });
    let mut dx = vec![0.0f32; n * c];
    let mut dwte = vec![0.0f32; vp * c];
    let mut scratch = vec![0.0f32; vp * c];
    total += time("lm head bwd", 1, &mut || {
        matmul::backward_nt(
            &mut dx,
            &mut dwte,
            Some(&mut scratch),
            &dlogits,
            &x[..n * c],
            wte,
            c,
            vp,
            false,
        )
    });
    let qkv = r(n * 3 * c, 4);
    let mut att = vec![0.0f32; b * nh * t * t];
    let mut datt = vec![0.0f32; b * nh * t * t];
    let mut ay = vec![0.0f32; n * c];
    let mut dqkv = vec![0.0f32; n * 3 * c];
    total += time("attention fwd", l, &mut || {
        attention::forward(&mut ay, &mut att, &qkv, b, t, c, nh)
    });
    total += time("attention bwd", l, &mut || {
        attention::backward(&mut dqkv, &mut datt, &x[..n * c], &qkv, &att, b, t, c, nh)
    });
    let (mut m, mut rs) = (vec![0.0f32; n], vec![0.0f32; n]);
    let (lw, lb) = (r(c, 5), r(c, 6));
    let (mut dlw, mut dlb) = (vec![0.0f32; c], vec![0.0f32; c]);
    total += time("layernorm fwd", 2 * l + 1, &mut || {
        layernorm::forward(&mut out[..n * c], &mut m, &mut rs, &x[..n * c], &lw, &lb)
    });
    total += time("layernorm bwd", 2 * l + 1, &mut || {
        layernorm::backward(
            &mut dx,
            &mut dlw,
            &mut dlb,
            &y[..n * c],
            &x[..n * c],
            &lw,
            &m,
            &rs,
        )
    });
    total += time("gelu fwd", l, &mut || gelu::forward(&mut out, &x));
    let mut d = y.clone();
    total += time("gelu bwd (in place)", l, &mut || {
        gelu::backward_inplace(&mut d, &x)
    });
    let mut p = params.to_vec();
    total += time("grad clip", 1, &mut || {
        clip_grad_norm(grads, 1e9);
    });
    total += time("adamw", 1, &mut || {
        opt.step(layout, &mut p, grads, 1e-4, 0.1)
    });
    println!("  {:<28} {:>40.1} ms/step", "sum of kernels", total);
}
