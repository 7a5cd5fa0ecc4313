//! Scaling laws for the RL phase, on Hex: the game, an exact solver for small boards, MCTS with
//! PUCT, a small policy-value network trained by self-play, and Elo ratings of agents.
//!
//! # Brief overview
//! - [`hex::Board`]: rules, coordinates, union-find win detection, optional swap rule.
//! - [`solver::Solver`]: exact values and optimal moves for n ≤ 5, cached to disk.
//! - [`mcts`]: PUCT search over an [`mcts::Evaluator`] (network or uniform priors + rollouts).
//! - [`net::Net`]: an MLP policy-value network with exact FLOP counts, Adam.
//! - [`selfplay`]: self-play with a replay buffer and training; snapshots are agents.
//! - [`agent`] and [`elo`]: matches, Bradley–Terry Elo with bootstrap intervals, error rate against the solver.
#![deny(missing_docs)]

pub mod agent;
pub mod elo;
pub mod fsutil;
pub mod hex;
pub mod mcts;
pub mod net;
pub mod selfplay;
pub mod solver;

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Board side outside 3..=9.
    #[error("board size {0} is not supported: use 3 to 9")]
    BoardSize(usize),
    /// A move that is not legal in the position.
    #[error("illegal move {mv} in position\n{position}")]
    IllegalMove {
        /// The move's name.
        mv: String,
        /// The board, drawn.
        position: String,
    },
    /// A coordinate that does not name a cell of the board.
    #[error("'{text}' is not a cell of a {n}x{n} board: write a column letter and a row number, like a1 or c3 (or 'swap')")]
    BadCoordinate {
        /// What was given.
        text: String,
        /// Board side.
        n: usize,
    },
    /// The solver only handles small boards.
    #[error("the exact solver handles boards up to 5x5 without the swap rule, not {0}")]
    SolverUnsupported(String),
    /// A solver cache that is not usable.
    #[error("solver cache {path}: {reason}; delete it and run `ladder rl solve` again")]
    BadCache {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A configuration that cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An agent specification or snapshot that cannot be used.
    #[error("agent '{spec}': {reason}")]
    Agent {
        /// The spec as given.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// I/O on a path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// JSON (de)serialisation of a file.
    #[error("{path}: {source}")]
    Json {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
}

/// Result with this crate's error.
pub type Result<T> = std::result::Result<T, Error>;
