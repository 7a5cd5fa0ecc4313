//! The report's figures, one module per kind. Every figure is a struct that borrows the data it
//! draws and implements [`crate::plot::Draw`], so the same code makes the SVG and the PNG.
//!
//! Compute everywhere is `C = 6·N·D` (N non-embedding parameters, D training tokens), the
//! convention of the scaling-law fits (DESIGN §2); losses are validation cross-entropy in nats
//! per token unless a figure says "training loss".

pub mod curves;
pub mod diagnosis;
pub mod frontier;
pub mod hparams;
pub mod law;
pub mod shape;

use crate::fits::Laws;
use crate::runs::Run;

/// What every figure may look at.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The input's runs, sorted by (C, N, name).
    pub runs: &'a [Run],
    /// Budgets, parabolas and laws.
    pub laws: &'a Laws,
    /// Indices of highlighted runs.
    pub highlight: &'a [usize],
    /// The source's entropy (nats/token), when the runs' data has one.
    pub entropy: Option<f64>,
}

impl Ctx<'_> {
    /// Legend text of budget `k`.
    pub fn budget_label(&self, k: usize) -> String {
        let b = &self.laws.budgets[k];
        format!(
            "C = {} FLOPs ({} run{})",
            crate::plot::sci(b.c),
            b.runs.len(),
            if b.runs.len() == 1 { "" } else { "s" }
        )
    }
}
