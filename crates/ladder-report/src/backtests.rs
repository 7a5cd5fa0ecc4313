//! The report's backtest section: a `backtest.json` from `ladder backtest --out` in the input
//! folder when there is one, else backtests run here (Chinchilla and IsoFLOP, the largest budget
//! held out) when the ladder has at least 3 budgets.

use std::path::{Path, PathBuf};

use ladder_laws::backtest::{largest_budget_held_out, Backtest};
use ladder_laws::FitOptions;

use crate::fits::Laws;

/// Budgets a backtest run here needs: two to fit, one to hold out.
pub const MIN_BUDGETS: usize = 3;

/// Where the backtests came from.
#[derive(Clone, Debug, PartialEq)]
pub enum BacktestSource {
    /// Read from this file.
    File(PathBuf),
    /// Run by the report with `--holdout-top 1`.
    Run,
    /// None: the reason.
    None(String),
}

/// The backtests shown: per law, the result or why there is none.
#[derive(Clone, Debug)]
pub struct Backtests {
    /// Where they came from.
    pub source: BacktestSource,
    /// `(law, result or reason)`.
    pub items: Vec<(String, std::result::Result<Backtest, String>)>,
}

/// Reads `<input>/backtest.json`, or runs the backtests on the points the laws were fitted to.
pub fn backtests(
    input: &Path,
    laws: &Laws,
    bootstrap: usize,
    seed: u64,
    warnings: &mut Vec<String>,
) -> Backtests {
    let file = input.join("backtest.json");
    if file.is_file() {
        match std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Backtest>(&t).map_err(|e| e.to_string()))
        {
            Ok(b) => {
                return Backtests {
                    source: BacktestSource::File(file),
                    items: vec![(b.law.clone(), Ok(b))],
                }
            }
            Err(e) => warnings.push(format!(
                "{}: not a backtest result ({e}); backtests were run here instead",
                file.display()
            )),
        }
    }
    let budgets = ladder_laws::isoflop::groups(&laws.points).len();
    if budgets < MIN_BUDGETS {
        return Backtests {
            source: BacktestSource::None(format!(
                "{budgets} compute budget(s) with completed runs; a backtest needs at least {MIN_BUDGETS} (2 to fit, 1 to hold out)"
            )),
            items: Vec::new(),
        };
    }
    let opts = match FitOptions::default().with_bootstrap(bootstrap) {
        Ok(o) => o.with_seed(seed),
        Err(e) => {
            return Backtests {
                source: BacktestSource::None(e.to_string()),
                items: Vec::new(),
            }
        }
    };
    let items = largest_budget_held_out(&laws.points, &opts)
        .into_iter()
        .map(|(law, bt)| (law.name().to_string(), bt.map_err(|e| e.to_string())))
        .collect();
    Backtests {
        source: BacktestSource::Run,
        items,
    }
}
