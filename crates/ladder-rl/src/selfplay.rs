//! AlphaZero-style training: self-play games with MCTS guided by the current network fill a replay
//! buffer; Adam steps on minibatches drawn from it. Snapshots along training are agents.
//!
//! Determinism: game g of the whole run draws from its own ChaCha8 stream (seed, stream 1 + g) and
//! games run in parallel (rayon) against a frozen network, with results gathered in game order;
//! minibatch sampling uses stream 0, and the gradient is summed in one thread in batch order. So the
//! same config and seed give bitwise identical snapshots for any thread count.
//!
//! Compute is counted as for pretraining: training FLOPs = steps × batch × (forward + backward) of
//! the net; self-play FLOPs = the forward passes MCTS spent generating the games, reported apart.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::hex::{Board, Player};
use crate::mcts::{search, MctsConfig};
use crate::net::{canonical_cell, planes, Adam, Example, Net, NetEvaluator, NetShape};
use crate::{Error, Result};

/// Format tag of agent snapshot files.
pub const AGENT_FORMAT: &str = "ladder-rl-agent";
/// Version of the snapshot format.
pub const AGENT_VERSION: u32 = 1;

/// Everything that defines a training run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainConfig {
    /// Board side n.
    pub n: usize,
    /// Hidden width.
    pub width: usize,
    /// Hidden layers.
    pub depth: usize,
    /// MCTS simulations per self-play move.
    pub nodes: usize,
    /// PUCT exploration constant.
    pub c_puct: f32,
    /// Iterations (self-play then training).
    pub iters: usize,
    /// Self-play games per iteration.
    pub games_per_iter: usize,
    /// Adam steps per iteration.
    pub steps_per_iter: usize,
    /// Positions per minibatch.
    pub batch: usize,
    /// Adam learning rate.
    pub lr: f32,
    /// Replay buffer capacity in positions.
    pub buffer: usize,
    /// Plies at the start of each game whose move is sampled ∝ visits (exploration); later plies take the most visited move.
    pub temp_plies: usize,
    /// Save a snapshot every this many iterations (and after the last, and before the first).
    pub snapshot_every: usize,
    /// Seed of everything.
    pub seed: u64,
}

impl TrainConfig {
    /// Sensible small defaults for an n×n board.
    pub fn small(n: usize) -> TrainConfig {
        TrainConfig {
            n,
            width: 32,
            depth: 2,
            nodes: 32,
            c_puct: 1.5,
            iters: 20,
            games_per_iter: 32,
            steps_per_iter: 32,
            batch: 64,
            lr: 1e-3,
            buffer: 20_000,
            temp_plies: n * n / 2,
            snapshot_every: 5,
            seed: 0,
        }
    }

    /// Checks the numbers make sense.
    pub fn validate(&self) -> Result<()> {
        self.shape().validate()?;
        let bad = |what: &str| Err(Error::Config(what.to_string()));
        if self.iters == 0 || self.games_per_iter == 0 {
            return bad("--iters and --games must be at least 1");
        }
        if self.batch == 0 || self.buffer < self.batch {
            return bad("--batch must be at least 1 and --buffer at least --batch");
        }
        if self.nodes == 0 {
            return bad(
                "self-play needs --nodes >= 1 (the search's visit counts are the policy targets)",
            );
        }
        let positive = |x: f32| x > 0.0 && x.is_finite();
        if !positive(self.lr) || !positive(self.c_puct) {
            return bad("--lr and --c-puct must be positive");
        }
        if self.snapshot_every == 0 {
            return bad("--snapshot-every must be at least 1");
        }
        Ok(())
    }

    /// Network shape.
    pub fn shape(&self) -> NetShape {
        NetShape {
            n: self.n,
            width: self.width,
            depth: self.depth,
        }
    }
}

/// Compute spent up to a point of training.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Compute {
    /// Self-play games played.
    pub games: u64,
    /// Positions added to the buffer.
    pub positions: u64,
    /// Adam steps taken.
    pub train_steps: u64,
    /// Forward + backward FLOPs of the training steps.
    pub train_flops: u64,
    /// Forward FLOPs spent by MCTS in self-play.
    pub selfplay_flops: u64,
}

/// A saved agent: a network plus how it was trained and what that cost.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentFile {
    /// Always [`AGENT_FORMAT`].
    pub format: String,
    /// [`AGENT_VERSION`].
    pub version: u32,
    /// The training run's config.
    pub config: TrainConfig,
    /// Iterations done when saved.
    pub iter: usize,
    /// Compute spent when saved.
    pub compute: Compute,
    /// The network.
    pub net: Net,
}

impl AgentFile {
    /// Reads and checks a snapshot.
    pub fn load(path: &Path) -> Result<AgentFile> {
        let f: AgentFile = crate::fsutil::read_json(path)?;
        if f.format != AGENT_FORMAT || f.version != AGENT_VERSION {
            return Err(Error::Agent {
                spec: path.display().to_string(),
                reason: format!(
                    "format {} v{}, expected {AGENT_FORMAT} v{AGENT_VERSION}",
                    f.format, f.version
                ),
            });
        }
        if f.net.params.len() != f.net.shape.params() {
            return Err(Error::Agent {
                spec: path.display().to_string(),
                reason: "parameter count does not match the shape".into(),
            });
        }
        Ok(f)
    }
}

/// One iteration's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IterRecord {
    /// Iteration (1-based).
    pub iter: usize,
    /// Cumulative compute after it.
    pub compute: Compute,
    /// Mean policy cross-entropy over the iteration's steps.
    pub loss_policy: f64,
    /// Mean value squared error over the iteration's steps.
    pub loss_value: f64,
    /// Fraction of this iteration's self-play games won by Black.
    pub black_win_rate: f64,
    /// Snapshot written after it, relative to the output directory.
    pub snapshot: Option<String>,
}

/// The JSON record of a training run (`train.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainRecord {
    /// Config.
    pub config: TrainConfig,
    /// Parameters of the net.
    pub params: usize,
    /// FLOPs of one position's forward pass.
    pub forward_flops_per_position: u64,
    /// FLOPs of one position's backward pass.
    pub backward_flops_per_position: u64,
    /// Snapshot before training, relative to the output directory.
    pub initial_snapshot: String,
    /// Per-iteration records.
    pub iters: Vec<IterRecord>,
}

struct GameOut {
    examples: Vec<Example>,
    flops: u64,
    winner: Player,
}

fn self_play_game(net: &Net, cfg: &TrainConfig, rng: &mut ChaCha8Rng) -> GameOut {
    let n = cfg.n;
    let mut board = Board::new(n, false).expect("validated size");
    let mut eval = NetEvaluator::new(net);
    let mcts = MctsConfig {
        nodes: cfg.nodes,
        c_puct: cfg.c_puct,
    };
    let mut pending: Vec<(Vec<f32>, Vec<f32>, Player)> = Vec::new();
    let mut ply = 0;
    while !board.is_over() {
        let res = search(&board, &mut eval, &mcts, rng);
        let me = board.to_move();
        let mut target = vec![0.0; n * n];
        for (k, &m) in res.moves.iter().enumerate() {
            target[canonical_cell(n, me, m)] = res.policy[k];
        }
        pending.push((planes(&board), target, me));
        let mv = if ply < cfg.temp_plies {
            let r: f32 = rng.random();
            let mut acc = 0.0;
            let mut pick = res.moves[res.moves.len() - 1];
            for (k, &m) in res.moves.iter().enumerate() {
                acc += res.policy[k];
                if r < acc {
                    pick = m;
                    break;
                }
            }
            pick
        } else {
            res.best()
        };
        board.play(mv).expect("search returns legal moves");
        ply += 1;
    }
    let winner = board.winner().expect("finished");
    let examples = pending
        .into_iter()
        .map(|(planes, policy, p)| Example {
            planes,
            policy,
            z: if p == winner { 1.0 } else { -1.0 },
        })
        .collect();
    GameOut {
        examples,
        flops: eval.flops,
        winner,
    }
}

/// 180° rotation of canonical planes/policy: cell k ↦ n²-1-k keeps both goals (a Hex symmetry).
fn rotate(e: &Example, nn: usize) -> Example {
    let mut planes = vec![0.0; 2 * nn];
    let mut policy = vec![0.0; nn];
    for k in 0..nn {
        planes[nn - 1 - k] = e.planes[k];
        planes[2 * nn - 1 - k] = e.planes[nn + k];
        policy[nn - 1 - k] = e.policy[k];
    }
    Example {
        planes,
        policy,
        z: e.z,
    }
}

fn save_snapshot(
    out: &Path,
    rel: &str,
    cfg: &TrainConfig,
    iter: usize,
    compute: Compute,
    net: &Net,
) -> Result<()> {
    let file = AgentFile {
        format: AGENT_FORMAT.into(),
        version: AGENT_VERSION,
        config: cfg.clone(),
        iter,
        compute,
        net: net.clone(),
    };
    crate::fsutil::write_json_atomic(&out.join(rel), &file)
}

/// Trains from scratch, writing `out/snapshots/iter-NNNNNN.json` and `out/train.json`;
/// `progress` sees every iteration's record.
pub fn train(
    cfg: &TrainConfig,
    out: &Path,
    progress: &mut dyn FnMut(&IterRecord),
) -> Result<TrainRecord> {
    cfg.validate()?;
    let shape = cfg.shape();
    let mut net = Net::new(shape, cfg.seed)?;
    let mut opt = Adam::new(net.params.len(), cfg.lr);
    let mut sample_rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    sample_rng.set_stream(0);
    let mut buffer: VecDeque<Example> = VecDeque::with_capacity(cfg.buffer);
    let mut compute = Compute::default();
    let snap = |i: usize| format!("snapshots/iter-{i:06}.json");
    let initial = snap(0);
    save_snapshot(out, &initial, cfg, 0, compute, &net)?;
    let step_flops = cfg.batch as u64 * (shape.forward_flops() + shape.backward_flops());
    let mut record = TrainRecord {
        config: cfg.clone(),
        params: shape.params(),
        forward_flops_per_position: shape.forward_flops(),
        backward_flops_per_position: shape.backward_flops(),
        initial_snapshot: initial,
        iters: Vec::new(),
    };
    let mut grads = vec![0.0f32; net.params.len()];
    for iter in 1..=cfg.iters {
        let first_game = compute.games;
        let games: Vec<GameOut> = (0..cfg.games_per_iter as u64)
            .into_par_iter()
            .map(|g| {
                let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
                rng.set_stream(1 + first_game + g);
                self_play_game(&net, cfg, &mut rng)
            })
            .collect();
        let mut black_wins = 0;
        for g in games {
            compute.games += 1;
            compute.selfplay_flops += g.flops;
            compute.positions += g.examples.len() as u64;
            black_wins += (g.winner == Player::Black) as usize;
            for e in g.examples {
                if buffer.len() == cfg.buffer {
                    buffer.pop_front();
                }
                buffer.push_back(e);
            }
        }
        let (mut lp, mut lv) = (0.0, 0.0);
        let nn = cfg.n * cfg.n;
        for _ in 0..cfg.steps_per_iter {
            let batch: Vec<Example> = (0..cfg.batch)
                .map(|_| {
                    let e = &buffer[sample_rng.random_range(0..buffer.len())];
                    if sample_rng.random::<bool>() {
                        rotate(e, nn)
                    } else {
                        e.clone()
                    }
                })
                .collect();
            let refs: Vec<&Example> = batch.iter().collect();
            grads.iter_mut().for_each(|g| *g = 0.0);
            let (p, v) = net.loss_and_grad(&refs, &mut grads);
            opt.step(&mut net.params, &grads);
            lp += p;
            lv += v;
            compute.train_steps += 1;
            compute.train_flops += step_flops;
        }
        let steps = cfg.steps_per_iter.max(1) as f64;
        let snapshot = if iter % cfg.snapshot_every == 0 || iter == cfg.iters {
            let rel = snap(iter);
            save_snapshot(out, &rel, cfg, iter, compute, &net)?;
            Some(rel)
        } else {
            None
        };
        let rec = IterRecord {
            iter,
            compute,
            loss_policy: lp / steps,
            loss_value: lv / steps,
            black_win_rate: black_wins as f64 / cfg.games_per_iter as f64,
            snapshot,
        };
        progress(&rec);
        record.iters.push(rec);
        crate::fsutil::write_json_atomic(&out.join("train.json"), &record)?;
    }
    Ok(record)
}

/// Path of the last snapshot of a training output directory.
pub fn last_snapshot(out: &Path) -> Result<PathBuf> {
    let rec: TrainRecord = crate::fsutil::read_json(&out.join("train.json"))?;
    let rel = rec
        .iters
        .iter()
        .rev()
        .find_map(|r| r.snapshot.clone())
        .unwrap_or(rec.initial_snapshot);
    Ok(out.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(seed: u64) -> TrainConfig {
        TrainConfig {
            n: 3,
            width: 16,
            depth: 1,
            nodes: 8,
            c_puct: 1.5,
            iters: 3,
            games_per_iter: 6,
            steps_per_iter: 4,
            batch: 8,
            lr: 1e-3,
            buffer: 200,
            temp_plies: 3,
            snapshot_every: 2,
            seed,
        }
    }

    #[test]
    fn same_seed_same_snapshots_for_any_thread_count() {
        let run = |threads: usize, seed: u64| {
            let dir = tempfile::tempdir().unwrap();
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let rec = pool
                .install(|| train(&tiny(seed), dir.path(), &mut |_| {}))
                .unwrap();
            let last = AgentFile::load(&last_snapshot(dir.path()).unwrap()).unwrap();
            (rec.iters.last().unwrap().compute, last.net.params)
        };
        let (c1, p1) = run(1, 5);
        let (c2, p2) = run(3, 5);
        assert_eq!(c1, c2);
        assert_eq!(p1, p2, "bitwise identical weights across thread counts");
        let (_, p3) = run(1, 6);
        assert_ne!(p1, p3);
    }

    #[test]
    fn compute_is_counted_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = tiny(1);
        let rec = train(&cfg, dir.path(), &mut |_| {}).unwrap();
        let c = rec.iters.last().unwrap().compute;
        let s = cfg.shape();
        assert_eq!(c.train_steps, 12);
        assert_eq!(
            c.train_flops,
            12 * 8 * (s.forward_flops() + s.backward_flops())
        );
        // Each self-play move runs `nodes` simulations; each expands one leaf (one forward) unless
        // it ends on a finished game, so forwards ≤ nodes × positions, and > 0.
        assert!(c.selfplay_flops > 0);
        assert_eq!(c.selfplay_flops % s.forward_flops(), 0);
        assert!(c.selfplay_flops <= s.forward_flops() * cfg.nodes as u64 * c.positions);
        assert_eq!(c.games, 18);
        // Snapshots at 0, 2 and 3.
        for i in [0, 2, 3] {
            assert!(dir
                .path()
                .join(format!("snapshots/iter-{i:06}.json"))
                .exists());
        }
    }

    #[test]
    fn rotation_is_an_involution() {
        let e = Example {
            planes: (0..18).map(|x| x as f32).collect(),
            policy: (0..9).map(|x| x as f32).collect(),
            z: 1.0,
        };
        let r = rotate(&rotate(&e, 9), 9);
        assert_eq!(r.planes, e.planes);
        assert_eq!(r.policy, e.policy);
        assert_eq!(rotate(&e, 9).planes[0], 8.0);
    }
}
