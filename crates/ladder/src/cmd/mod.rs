//! One module per subcommand: clap arguments plus a `run` that validates them and calls a library.

pub mod backtest;
pub mod bench;
pub mod checkpoint;
pub mod compare;
pub mod data;
pub mod debug;
pub mod diagnose;
pub mod dist;
pub mod doctor;
pub mod eval;
pub mod export;
pub mod fit;
pub mod predict;
pub mod profile;
pub mod quickstart;
pub mod report;
pub mod rl;
pub mod sample;
pub mod suggest;
pub mod supervise;
pub mod sweep;
pub mod train;
