//! Token + position embedding. Shapes: inp (B·T) token ids; out (B·T, C); wte (Vp, C); wpe (≥T, C).
//! Matches HF `GPT2Model`: `wte(input_ids) + wpe(position_ids)`.

use rayon::prelude::*;

use super::par::{rows_per_chunk, threads};
use super::simd::multiversion;

/// out[b, t] = wte[inp[b, t]] + wpe[t]. Overwrites `out`. Token ids must be < wte rows.
pub fn forward(out: &mut [f32], inp: &[u32], wte: &[f32], wpe: &[f32], t_len: usize, c: usize) {
    assert!(
        c > 0
            && t_len > 0
            && out.len() == inp.len() * c
            && inp.len().is_multiple_of(t_len)
            && wpe.len() >= t_len * c
    );
    assert!(
        inp.iter().all(|&tok| (tok as usize + 1) * c <= wte.len()),
        "token id out of range"
    );
    let rows = rows_per_chunk(inp.len());
    out.par_chunks_mut(rows * c)
        .enumerate()
        .for_each(|(ci, o)| {
            for (i, orow) in o.chunks_exact_mut(c).enumerate() {
                let n = ci * rows + i;
                let tok = inp[n] as usize;
                let t = n % t_len;
                add_rows(orow, &wte[tok * c..(tok + 1) * c], &wpe[t * c..(t + 1) * c]);
            }
        });
}

multiversion! {
    fn add_rows(out: &mut [f32], a: &[f32], b: &[f32]) {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = x + y;
        }
    }
}

/// dwte[inp[b, t]] += dout[b, t]; dwpe[t] += dout[b, t]. Columns are split over threads and each
/// sums rows in order (repeated tokens hit the same `dwte` row), so the result does not depend
/// on the thread count.
pub fn backward(
    dwte: &mut [f32],
    dwpe: &mut [f32],
    dout: &[f32],
    inp: &[u32],
    t_len: usize,
    c: usize,
) {
    assert!(
        c > 0
            && t_len > 0
            && dout.len() == inp.len() * c
            && inp.len().is_multiple_of(t_len)
            && dwpe.len() >= t_len * c
    );
    assert!(
        inp.iter().all(|&tok| (tok as usize + 1) * c <= dwte.len()),
        "token id out of range"
    );
    let parts = threads().min(c.div_ceil(8)).max(1);
    let wte = super::par::SendPtr(dwte.as_mut_ptr());
    let wpe = super::par::SendPtr(dwpe.as_mut_ptr());
    super::par::for_ranges(c, parts, 8, |cols| {
        for (n, (&tok, row)) in inp.iter().zip(dout.chunks_exact(c)).enumerate() {
            let t = n % t_len;
            let src = &row[cols.clone()];
            // SAFETY: each task touches only columns `cols` of dwte/dwpe; rows are in range
            // (asserted above), and the slices are exclusively borrowed by this call.
            unsafe {
                let d = std::slice::from_raw_parts_mut(
                    wte.get().add(tok as usize * c + cols.start),
                    cols.len(),
                );
                add_assign(d, src);
                let d =
                    std::slice::from_raw_parts_mut(wpe.get().add(t * c + cols.start), cols.len());
                add_assign(d, src);
            }
        }
    });
}

/// out[n] = wte[inp[n]]: token embedding only (rotary families have no position table).
/// Overwrites `out`.
pub fn tokens_forward(out: &mut [f32], inp: &[u32], wte: &[f32], c: usize) {
    assert!(c > 0 && out.len() == inp.len() * c);
    assert!(
        inp.iter().all(|&tok| (tok as usize + 1) * c <= wte.len()),
        "token id out of range"
    );
    let rows = rows_per_chunk(inp.len());
    out.par_chunks_mut(rows * c)
        .zip(inp.par_chunks(rows))
        .for_each(|(o, toks)| {
            for (orow, &tok) in o.chunks_exact_mut(c).zip(toks) {
                let tok = tok as usize;
                orow.copy_from_slice(&wte[tok * c..(tok + 1) * c]);
            }
        });
}

/// dwte[inp[n]] += dout[n]; columns split over threads, rows summed in order (as [`backward`]).
pub fn tokens_backward(dwte: &mut [f32], dout: &[f32], inp: &[u32], c: usize) {
    assert!(c > 0 && dout.len() == inp.len() * c);
    assert!(
        inp.iter().all(|&tok| (tok as usize + 1) * c <= dwte.len()),
        "token id out of range"
    );
    let parts = threads().min(c.div_ceil(8)).max(1);
    let wte = super::par::SendPtr(dwte.as_mut_ptr());
    super::par::for_ranges(c, parts, 8, |cols| {
        for (&tok, row) in inp.iter().zip(dout.chunks_exact(c)) {
            // SAFETY: each task touches only columns `cols` of dwte; rows are in range (asserted
            // above), and the slice is exclusively borrowed by this call.
            unsafe {
                let d = std::slice::from_raw_parts_mut(
                    wte.get().add(tok as usize * c + cols.start),
                    cols.len(),
                );
                add_assign(d, &row[cols.clone()]);
            }
        }
    });
}

multiversion! {
    fn add_assign(d: &mut [f32], s: &[f32]) {
        for (d, &s) in d.iter_mut().zip(s) {
            *d += s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference as r;
    use crate::kernels::testing::{assert_close, fd_grad, rand_vec, to_f64};

    const T: usize = 5;
    const C: usize = 11;
    const V: usize = 7;

    #[test]
    fn embedding_forward_matches_naive_f64() {
        let inp = [1u32, 3, 3, 0, 6, 2, 6, 6, 1, 1];
        let (wte, wpe) = (rand_vec(V * C, 1, 1.0), rand_vec(T * C, 2, 1.0));
        let mut out = vec![f32::NAN; inp.len() * C];
        forward(&mut out, &inp, &wte, &wpe, T, C);
        let want = r::embedding_forward(&inp, &to_f64(&wte), &to_f64(&wpe), T, C);
        assert_close("embedding.out", &out, &want, 1e-7, 1e-7);
    }

    #[test]
    fn embedding_backward_matches_finite_differences() {
        let inp = [1u32, 3, 3, 0, 6, 2, 6, 6, 1, 1]; // repeated tokens accumulate
        let (wte, wpe) = (rand_vec(V * C, 1, 1.0), rand_vec(T * C, 2, 1.0));
        let dout = rand_vec(inp.len() * C, 3, 1.0);
        let (mut dwte, mut dwpe) = (vec![0.5; V * C], vec![0.5; T * C]);
        backward(&mut dwte, &mut dwpe, &dout, &inp, T, C);
        // f = Σ dout ⊙ out is linear: FD (h = 1e-6) is exact to f64 rounding.
        let (wd, pd, dd) = (to_f64(&wte), to_f64(&wpe), to_f64(&dout));
        let f = |o: Vec<f64>| o.iter().zip(&dd).map(|(a, b)| a * b).sum::<f64>();
        let gw: Vec<f64> = fd_grad(&wd, 1e-6, |w| f(r::embedding_forward(&inp, w, &pd, T, C)))
            .iter()
            .map(|v| v + 0.5)
            .collect();
        let gp: Vec<f64> = fd_grad(&pd, 1e-6, |p| f(r::embedding_forward(&inp, &wd, p, T, C)))
            .iter()
            .map(|v| v + 0.5)
            .collect();
        assert_close("embedding.dwte", &dwte, &gw, 1e-6, 1e-6);
        assert_close("embedding.dwpe", &dwpe, &gp, 1e-6, 1e-6);
    }

    #[test]
    fn token_embedding_matches_reference_and_finite_differences() {
        let inp = [1u32, 3, 3, 0, 6, 2, 6, 6, 1, 1];
        let wte = rand_vec(V * C, 1, 1.0);
        let zeros = vec![0.0; T * C];
        let mut out = vec![f32::NAN; inp.len() * C];
        tokens_forward(&mut out, &inp, &wte, C);
        let want = r::embedding_forward(&inp, &to_f64(&wte), &zeros, T, C);
        assert_close("tokens.out", &out, &want, 0.0, 0.0);
        let dout = rand_vec(inp.len() * C, 3, 1.0);
        let mut dwte = vec![0.5; V * C];
        tokens_backward(&mut dwte, &dout, &inp, C);
        let (wd, dd) = (to_f64(&wte), to_f64(&dout));
        let f = |o: Vec<f64>| o.iter().zip(&dd).map(|(a, b)| a * b).sum::<f64>();
        let gw: Vec<f64> = fd_grad(&wd, 1e-6, |w| {
            f(r::embedding_forward(&inp, w, &zeros, T, C))
        })
        .iter()
        .map(|v| v + 0.5)
        .collect();
        assert_close("tokens.dwte", &dwte, &gw, 1e-6, 1e-6);
    }
}
