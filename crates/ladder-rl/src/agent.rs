//! Agents, games between them, tournaments and the error rate against the solver.
//!
//! An agent spec is one of:
//! - `random`: a uniformly random legal move (the Elo anchor, 0);
//! - `solver`: perfect play (n ≤ 5): a winning move when there is one, chosen at random among them;
//!   in a lost position, the move that leaves the opponent the fewest winning replies (a random move
//!   is just as "perfect" but gifts wins to opponents that would have erred);
//! - `mcts:N`: MCTS with N simulations, uniform priors and random-playout values (no network);
//! - `PATH` or `PATH@N`: a snapshot written by `ladder rl train`, searching with N simulations per
//!   move (default: the nodes it was trained with; `@0` plays the network's policy directly).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::hex::{Board, Move, Player};
use crate::mcts::{search, MctsConfig, UniformRollout};
use crate::net::{Net, NetEvaluator};
use crate::selfplay::{AgentFile, Compute};
use crate::solver::Solver;
use crate::{Error, Result};

/// A solver shared between threads (its table grows as games query it).
pub type SharedSolver = Arc<Mutex<Solver>>;

/// A player.
#[derive(Clone)]
pub enum Agent {
    /// Uniformly random moves.
    Random,
    /// Perfect play.
    Solver(SharedSolver),
    /// MCTS with uniform priors and random playouts.
    Rollout {
        /// Simulations per move.
        nodes: usize,
    },
    /// A trained network with MCTS.
    Net {
        /// The network.
        net: Arc<Net>,
        /// Simulations per move (0: the policy's argmax).
        nodes: usize,
        /// PUCT constant.
        c_puct: f32,
        /// Training compute of the snapshot.
        compute: Compute,
    },
}

/// What an agent is, for tables and JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentInfo {
    /// The spec it was made from.
    pub spec: String,
    /// random | solver | rollout | net.
    pub kind: String,
    /// MCTS simulations per move (0 for random/solver).
    pub nodes: usize,
    /// Net parameters, for net agents.
    pub params: Option<usize>,
    /// Net width.
    pub width: Option<usize>,
    /// Net depth.
    pub depth: Option<usize>,
    /// Training compute, for net agents.
    pub compute: Option<Compute>,
}

impl Agent {
    /// Parses a spec for n×n boards. `solver` is the shared solver to use for `solver` (made on demand if `None`).
    pub fn parse(
        spec: &str,
        n: usize,
        solver: &mut Option<SharedSolver>,
    ) -> Result<(Agent, AgentInfo)> {
        let err = |reason: String| Error::Agent {
            spec: spec.to_string(),
            reason,
        };
        let mut info = AgentInfo {
            spec: spec.into(),
            kind: String::new(),
            nodes: 0,
            params: None,
            width: None,
            depth: None,
            compute: None,
        };
        if spec == "random" {
            info.kind = "random".into();
            return Ok((Agent::Random, info));
        }
        if spec == "solver" {
            let s = match solver {
                Some(s) => s.clone(),
                None => {
                    let s = Arc::new(Mutex::new(Solver::new(n).map_err(|e| err(e.to_string()))?));
                    *solver = Some(s.clone());
                    s
                }
            };
            info.kind = "solver".into();
            return Ok((Agent::Solver(s), info));
        }
        if let Some(k) = spec.strip_prefix("mcts:") {
            let nodes: usize = k
                .parse()
                .map_err(|_| err(format!("'{k}' is not a number of MCTS simulations")))?;
            if nodes == 0 {
                return Err(err("mcts:N needs N >= 1".into()));
            }
            info.kind = "rollout".into();
            info.nodes = nodes;
            return Ok((Agent::Rollout { nodes }, info));
        }
        let (path, nodes) = match spec.rsplit_once('@') {
            Some((p, k)) => (
                p,
                Some(k.parse::<usize>().map_err(|_| {
                    err(format!("'{k}' after @ is not a number of MCTS simulations"))
                })?),
            ),
            None => (spec, None),
        };
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(err("not 'random', 'solver', 'mcts:N' or an existing snapshot file (PATH or PATH@NODES)".into()));
        }
        let file = AgentFile::load(&path).map_err(|e| err(e.to_string()))?;
        if file.net.shape.n != n {
            return Err(err(format!(
                "it plays {0}x{0} boards, the tournament is {n}x{n}",
                file.net.shape.n
            )));
        }
        let nodes = nodes.unwrap_or(file.config.nodes);
        info.kind = "net".into();
        info.nodes = nodes;
        info.params = Some(file.net.shape.params());
        info.width = Some(file.net.shape.width);
        info.depth = Some(file.net.shape.depth);
        info.compute = Some(file.compute);
        Ok((
            Agent::Net {
                net: Arc::new(file.net),
                nodes,
                c_puct: file.config.c_puct,
                compute: file.compute,
            },
            info,
        ))
    }

    /// The agent's move in an unfinished position.
    pub fn choose(&self, board: &Board, rng: &mut ChaCha8Rng) -> Move {
        let random = |rng: &mut ChaCha8Rng| {
            let ms = board.legal_moves();
            ms[rng.random_range(0..ms.len())]
        };
        match self {
            Agent::Random => random(rng),
            Agent::Solver(s) => {
                let mut s = s.lock().expect("solver lock");
                let wins = s
                    .winning_moves(board)
                    .expect("solver agents are checked at parse time");
                if !wins.is_empty() {
                    return wins[rng.random_range(0..wins.len())];
                }
                // Lost: every move loses against perfect play, so make the win hardest to find:
                // the move that leaves the opponent the fewest winning replies (ties at random).
                let mut best: Vec<Move> = Vec::new();
                let mut fewest = usize::MAX;
                for m in board.legal_moves() {
                    let mut c = board.clone();
                    c.play(m).expect("legal");
                    let k = if c.is_over() {
                        0
                    } else {
                        s.winning_moves(&c).expect("checked").len()
                    };
                    if k < fewest {
                        fewest = k;
                        best.clear();
                    }
                    if k == fewest {
                        best.push(m);
                    }
                }
                best[rng.random_range(0..best.len())]
            }
            Agent::Rollout { nodes } => search(
                board,
                &mut UniformRollout,
                &MctsConfig {
                    nodes: *nodes,
                    c_puct: 1.5,
                },
                rng,
            )
            .best(),
            Agent::Net {
                net, nodes, c_puct, ..
            } => search(
                board,
                &mut NetEvaluator::new(net),
                &MctsConfig {
                    nodes: *nodes,
                    c_puct: *c_puct,
                },
                rng,
            )
            .best(),
        }
    }
}

/// The generator agents draw from, seeded.
pub fn seeded_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A random opening of `plies` moves that does not end the game, from a seeded generator.
pub fn random_opening(n: usize, plies: usize, rng: &mut ChaCha8Rng) -> Vec<Move> {
    let mut b = Board::new(n, false).expect("valid size");
    let mut moves = Vec::new();
    for _ in 0..plies {
        let legal = b.legal_moves();
        let m = legal[rng.random_range(0..legal.len())];
        let mut c = b.clone();
        c.play(m).expect("legal");
        if c.is_over() {
            break;
        }
        b = c;
        moves.push(m);
    }
    moves
}

/// Plays one game after `opening`; returns the winner.
pub fn play_game(
    black: &Agent,
    white: &Agent,
    n: usize,
    opening: &[Move],
    rng: &mut ChaCha8Rng,
) -> Player {
    let mut b = Board::new(n, false).expect("valid size");
    for &m in opening {
        b.play(m).expect("opening moves are legal");
    }
    while !b.is_over() {
        let agent = if b.to_move() == Player::Black {
            black
        } else {
            white
        };
        let m = agent.choose(&b, rng);
        b.play(m).expect("agents play legal moves");
    }
    b.winner().expect("finished")
}

/// Results of a round robin: `wins[i][j]` = games agent i won against agent j.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    /// Agents' specs.
    pub names: Vec<String>,
    /// Win counts.
    pub wins: Vec<Vec<u32>>,
}

/// Round robin: every pair plays `pairs` pairs of games; both games of a pair start from the same
/// random opening of `open_plies` moves with the colours swapped, so first-move advantage and the
/// opening cancel. Games run in parallel; each draws from its own seeded stream, so results do not
/// depend on the thread count. `progress` is called once per finished game pair.
pub fn round_robin(
    agents: &[Agent],
    names: &[String],
    n: usize,
    pairs: usize,
    open_plies: usize,
    seed: u64,
    progress: &(dyn Fn() + Sync),
) -> Results {
    let k = agents.len();
    let mut jobs = Vec::new();
    for i in 0..k {
        for j in i + 1..k {
            for g in 0..pairs {
                jobs.push((i, j, g));
            }
        }
    }
    let outcomes: Vec<(usize, usize, u32, u32)> = jobs
        .par_iter()
        .enumerate()
        .map(|(idx, &(i, j, _))| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(idx as u64);
            let opening = random_opening(n, open_plies, &mut rng);
            let mut wi = 0;
            if play_game(&agents[i], &agents[j], n, &opening, &mut rng) == Player::Black {
                wi += 1;
            }
            if play_game(&agents[j], &agents[i], n, &opening, &mut rng) == Player::White {
                wi += 1;
            }
            progress();
            (i, j, wi, 2 - wi)
        })
        .collect();
    let mut wins = vec![vec![0u32; k]; k];
    for (i, j, wi, wj) in outcomes {
        wins[i][j] += wi;
        wins[j][i] += wj;
    }
    Results {
        names: names.to_vec(),
        wins,
    }
}

/// How often an agent throws away a won position.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ErrorRate {
    /// Moves made from positions the mover wins with perfect play.
    pub won_positions: u64,
    /// Of those, moves after which the mover loses with perfect play.
    pub errors: u64,
    /// errors / won_positions.
    pub rate: f64,
    /// Binomial standard error of the rate, sqrt(r(1-r)/m).
    pub se: f64,
}

/// Error rate of `agent` against the solver. Positions come from `games` games after a random
/// opening of `open_plies` moves in which each later move is the agent's own choice or, with
/// probability 1/2, a uniformly random move — so deterministic agents still meet many different
/// positions, on and off their own path. In every unfinished position the agent is asked for its
/// move; those asked in won positions count, and an error is a move that makes the position lost.
pub fn error_rate(
    agent: &Agent,
    solver: &SharedSolver,
    n: usize,
    games: usize,
    open_plies: usize,
    seed: u64,
) -> Result<ErrorRate> {
    let per_game: Vec<Result<(u64, u64)>> = (0..games as u64)
        .into_par_iter()
        .map(|g| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(g);
            let mut b = Board::new(n, false)?;
            for m in random_opening(n, open_plies, &mut rng) {
                b.play(m)?;
            }
            let (mut won, mut err) = (0, 0);
            while !b.is_over() {
                let winning = solver.lock().expect("solver lock").to_move_wins(&b)?;
                let m = agent.choose(&b, &mut rng);
                let me = b.to_move();
                if winning {
                    won += 1;
                    let mut c = b.clone();
                    c.play(m)?;
                    let still = c.winner() == Some(me)
                        || !solver.lock().expect("solver lock").to_move_wins(&c)?;
                    err += (!still) as u64;
                }
                let next = if rng.random::<bool>() {
                    let legal = b.legal_moves();
                    legal[rng.random_range(0..legal.len())]
                } else {
                    m
                };
                b.play(next)?;
            }
            Ok((won, err))
        })
        .collect();
    let (mut won, mut err) = (0, 0);
    for r in per_game {
        let (w, e) = r?;
        won += w;
        err += e;
    }
    let rate = if won > 0 {
        err as f64 / won as f64
    } else {
        0.0
    };
    let se = if won > 0 {
        (rate * (1.0 - rate) / won as f64).sqrt()
    } else {
        0.0
    };
    Ok(ErrorRate {
        won_positions: won,
        errors: err,
        rate,
        se,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solver_never_errs_and_random_does() {
        let mut shared = None;
        let (solver, _) = Agent::parse("solver", 3, &mut shared).unwrap();
        let s = shared.clone().unwrap();
        let e = error_rate(&solver, &s, 3, 20, 1, 0).unwrap();
        assert!(e.won_positions > 0);
        assert_eq!(e.errors, 0);
        let e = error_rate(&Agent::Random, &s, 3, 40, 0, 0).unwrap();
        assert!(e.errors > 0 && e.rate < 1.0);
    }

    #[test]
    fn solver_beats_random_and_results_are_seeded() {
        let mut shared = None;
        let (solver, _) = Agent::parse("solver", 4, &mut shared).unwrap();
        let agents = vec![Agent::Random, solver];
        let names = vec!["random".to_string(), "solver".to_string()];
        let r = round_robin(&agents, &names, 4, 20, 1, 3, &|| {});
        assert_eq!(r.wins[0][1] + r.wins[1][0], 40);
        assert!(r.wins[1][0] >= 36, "solver won {} of 40", r.wins[1][0]);
        let again = round_robin(&agents, &names, 4, 20, 1, 3, &|| {});
        assert_eq!(r.wins, again.wins);
    }

    #[test]
    fn bad_specs_are_explained() {
        let mut s = None;
        for spec in ["mcts:x", "mcts:0", "nope.json", "nope.json@3"] {
            let e = Agent::parse(spec, 3, &mut s).err().unwrap().to_string();
            assert!(e.contains(spec.split('@').next().unwrap()), "{e}");
        }
        assert!(Agent::parse("solver", 7, &mut s).is_err());
    }
}
