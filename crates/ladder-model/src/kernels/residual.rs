//! Residual add. Shapes: any, elementwise. The model fuses it into the projection matmuls
//! (`matmul::forward_residual`) and into the gradient flow (backward kernels add into one
//! residual-stream gradient); this stand-alone pair documents and tests the maths.

use rayon::prelude::*;

/// out = a + b. Overwrites `out`.
pub fn forward(out: &mut [f32], a: &[f32], b: &[f32]) {
    assert!(out.len() == a.len() && a.len() == b.len());
    out.par_iter_mut()
        .zip(a.par_iter().zip(b))
        .for_each(|(o, (&x, &y))| *o = x + y);
}

/// forward: out = a + b  ⇒  da += dout, db += dout.
pub fn backward(da: &mut [f32], db: &mut [f32], dout: &[f32]) {
    assert!(da.len() == dout.len() && db.len() == dout.len());
    da.par_iter_mut()
        .zip(db.par_iter_mut())
        .zip(dout)
        .for_each(|((a, b), &g)| {
            *a += g;
            *b += g;
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference as r;
    use crate::kernels::testing::{assert_close, fd_grad, rand_vec, to_f64};

    #[test]
    fn residual_forward_and_backward_match_reference() {
        let (a, b, g) = (
            rand_vec(50, 1, 1.0),
            rand_vec(50, 2, 1.0),
            rand_vec(50, 3, 1.0),
        );
        let mut out = vec![0.0; 50];
        forward(&mut out, &a, &b);
        assert_close(
            "residual.out",
            &out,
            &r::residual_forward(&to_f64(&a), &to_f64(&b)),
            1e-7,
            1e-7,
        );
        let (mut da, mut db) = (vec![0.5; 50], vec![0.5; 50]);
        backward(&mut da, &mut db, &g);
        let (ad, bd, gd) = (to_f64(&a), to_f64(&b), to_f64(&g));
        let f = |o: Vec<f64>| o.iter().zip(&gd).map(|(x, y)| x * y).sum::<f64>();
        let want: Vec<f64> = fd_grad(&ad, 1e-6, |a| f(r::residual_forward(a, &bd)))
            .iter()
            .map(|v| v + 0.5)
            .collect();
        assert_close("residual.da", &da, &want, 1e-7, 1e-7);
        let want: Vec<f64> = fd_grad(&bd, 1e-6, |b| f(r::residual_forward(&ad, b)))
            .iter()
            .map(|v| v + 0.5)
            .collect();
        assert_close("residual.db", &db, &want, 1e-7, 1e-7);
    }
}
