//! `ladder rl ...`: Hex self-play training, tournaments with Elo, the exact solver, and play in the
//! terminal. The work is in `ladder-rl`; this file parses flags, draws progress and prints tables.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ladder_rl::agent::{self, Agent, SharedSolver};
use ladder_rl::hex::{Board, Player};
use ladder_rl::selfplay::{self, TrainConfig};
use ladder_rl::solver::Solver;
use serde::Serialize;

/// `ladder rl ...`.
#[derive(clap::Subcommand, Debug)]
pub enum RlCommand {
    /// Train a policy-value network on Hex by self-play (AlphaZero style); snapshots are agents.
    #[command(after_help = "\
Writes OUT/train.json (config, FLOPs per position, one record per iteration with cumulative
training and self-play FLOPs) and OUT/snapshots/iter-NNNNNN.json (agents for `ladder rl tournament`).
Same flags and seed give bitwise identical snapshots for any --threads.

Example:
  ladder rl train --size 4 --width 32 --depth 2 --iters 20 --nodes 32 --out rl/h4-w32")]
    Train(TrainArgs),
    /// Play agents against each other (both colours) and fit Elo (Bradley-Terry), random = 0.
    #[command(after_help = "\
AGENT is one of: random | solver (perfect play, n <= 5) | mcts:N (MCTS with N simulations,
uniform priors, random playouts) | PATH or PATH@N (a snapshot from `ladder rl train`, searching
N simulations per move; default the nodes it was trained with, @0 = the raw policy).
`random` is always added: it anchors the scale at 0. On boards up to 5x5 each agent's error rate
against the solver (fraction of its moves that turn a won position into a lost one) is measured too,
on the positions of games where each move is the agent's or, with probability 1/2, a random one.

Example:
  ladder rl tournament --size 4 --agent solver --agent mcts:200 \\
      --agent rl/h4-w32/snapshots/iter-000020.json --agent rl/h4-w32/snapshots/iter-000020.json@0")]
    Tournament(TournamentArgs),
    /// Solve a position exactly (n <= 5): who wins, and the winning moves.
    #[command(after_help = "\
Prints the board with every winning move marked `*`. With --cache the solver's table is loaded
from (and saved back to) that file, so later runs and tournaments reuse it.

Example:
  ladder rl solve --size 4 --cache hex4.solve
  ladder rl solve --size 4 --moves \"b2 c3\"")]
    Solve(SolveArgs),
    /// Play Hex against an agent in the terminal.
    #[command(after_help = "\
Type moves as a column letter and a row number (a1, c3), `swap` where the swap rule allows it,
or `quit`. Black (X) connects the top and bottom rows, White (O) the left and right columns.

Example:
  ladder rl play --size 4 --agent rl/h4-w32/snapshots/iter-000020.json --as white")]
    Play(PlayArgs),
}

/// Arguments of `ladder rl train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Board side n (3..=9).
    #[arg(long, default_value_t = 4)]
    pub size: usize,
    /// Hidden width of the MLP.
    #[arg(long, default_value_t = 32)]
    pub width: usize,
    /// Hidden layers of the MLP.
    #[arg(long, default_value_t = 2)]
    pub depth: usize,
    /// MCTS simulations per self-play move.
    #[arg(long, default_value_t = 32)]
    pub nodes: usize,
    /// PUCT exploration constant.
    #[arg(long, default_value_t = 1.5)]
    pub c_puct: f32,
    /// Iterations of (self-play, training).
    #[arg(long, default_value_t = 20)]
    pub iters: usize,
    /// Self-play games per iteration.
    #[arg(long, default_value_t = 32)]
    pub games: usize,
    /// Adam steps per iteration.
    #[arg(long, default_value_t = 32)]
    pub steps: usize,
    /// Positions per minibatch.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// Replay buffer capacity, in positions.
    #[arg(long, default_value_t = 20_000)]
    pub buffer: usize,
    /// Plies per game whose move is sampled in proportion to visits (default n²/2).
    #[arg(long)]
    pub temp_plies: Option<usize>,
    /// Snapshot every K iterations (plus before the first and after the last).
    #[arg(long, default_value_t = 5)]
    pub snapshot_every: usize,
    /// Seed of everything.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads for self-play (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output directory (must not hold a train.json already).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Arguments of `ladder rl tournament`.
#[derive(clap::Args, Debug)]
pub struct TournamentArgs {
    /// Board side n.
    #[arg(long, default_value_t = 4)]
    pub size: usize,
    /// An agent (repeat): random | solver | mcts:N | PATH[@N]. See below.
    #[arg(long = "agent", value_name = "AGENT", required = true)]
    pub agents: Vec<String>,
    /// Game pairs per pair of agents (each pair: one game with each colour, same opening).
    #[arg(long, default_value_t = 20)]
    pub pairs: usize,
    /// Random opening plies before the agents take over (diversifies deterministic agents).
    #[arg(long, default_value_t = 1)]
    pub open_plies: usize,
    /// Bootstrap replicates for the Elo intervals.
    #[arg(long, default_value_t = 200)]
    pub bootstrap: usize,
    /// Games per agent for the error rate against the solver (0: skip; n <= 5 only). Each move of
    /// those games is the agent's or, with probability 1/2, a random one; the agent's choice is
    /// judged in every won position along the way.
    #[arg(long, default_value_t = 50)]
    pub error_games: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Solver table to load and save back (speeds up `solver` and error rates).
    #[arg(long, value_name = "FILE")]
    pub solver_cache: Option<PathBuf>,
    /// Write the table, the win matrix and the error rates as JSON here.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Arguments of `ladder rl solve`.
#[derive(clap::Args, Debug)]
pub struct SolveArgs {
    /// Board side n (3..=5).
    #[arg(long, default_value_t = 4)]
    pub size: usize,
    /// Moves already played, in order, separated by spaces or commas ("b2 c3").
    #[arg(long, default_value = "")]
    pub moves: String,
    /// Solver table to load (when it exists) and save back.
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `ladder rl play`.
#[derive(clap::Args, Debug)]
pub struct PlayArgs {
    /// Board side n.
    #[arg(long, default_value_t = 4)]
    pub size: usize,
    /// The opponent: random | solver | mcts:N | PATH[@N].
    #[arg(long, value_name = "AGENT", default_value = "mcts:200")]
    pub agent: String,
    /// Your colour: black (moves first, top-bottom) or white (left-right).
    #[arg(long = "as", value_name = "COLOUR", default_value = "black")]
    pub colour: String,
    /// Allow the swap rule (White may take over Black's first stone).
    #[arg(long)]
    pub swap: bool,
    /// Seed of the agent's randomness.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(c: RlCommand) -> anyhow::Result<()> {
    match c {
        RlCommand::Train(a) => train(a),
        RlCommand::Tournament(a) => tournament(a),
        RlCommand::Solve(a) => solve(a),
        RlCommand::Play(a) => play(a),
    }
}

fn set_threads(threads: Option<usize>) -> anyhow::Result<()> {
    if let Some(t) = threads {
        if t == 0 {
            bail!("--threads must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()
            .context("setting up the thread pool")?;
    }
    Ok(())
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let b = ProgressBar::new(len).with_style(
        ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {what} {{msg}} ETA {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    b.set_draw_target(ProgressDrawTarget::stderr());
    b.enable_steady_tick(Duration::from_millis(250));
    b
}

fn train(a: TrainArgs) -> anyhow::Result<()> {
    set_threads(a.threads)?;
    let cfg = TrainConfig {
        n: a.size,
        width: a.width,
        depth: a.depth,
        nodes: a.nodes,
        c_puct: a.c_puct,
        iters: a.iters,
        games_per_iter: a.games,
        steps_per_iter: a.steps,
        batch: a.batch,
        lr: a.lr,
        buffer: a.buffer,
        temp_plies: a.temp_plies.unwrap_or(a.size * a.size / 2),
        snapshot_every: a.snapshot_every,
        seed: a.seed,
    };
    cfg.validate()?;
    if a.out.join("train.json").exists() {
        bail!(
            "{} already holds a training run (train.json); choose another --out or delete it",
            a.out.display()
        );
    }
    let shape = cfg.shape();
    eprintln!(
        "training a {}x{} MLP (width {}, depth {}, {} parameters; {} FLOPs forward, {} backward per position)",
        cfg.n,
        cfg.n,
        cfg.width,
        cfg.depth,
        shape.params(),
        shape.forward_flops(),
        shape.backward_flops()
    );
    let pb = bar(cfg.iters as u64, "iters");
    let t0 = Instant::now();
    let rec = selfplay::train(&cfg, &a.out, &mut |r| {
        pb.set_position(r.iter as u64);
        pb.set_message(format!(
            "policy {:.3} value {:.3}",
            r.loss_policy, r.loss_value
        ));
    })?;
    pb.finish_and_clear();
    let last = rec.iters.last().context("no iterations ran")?;
    println!(
        "{} iterations in {:.1} s: {} games, {} positions, {} Adam steps",
        cfg.iters,
        t0.elapsed().as_secs_f64(),
        last.compute.games,
        last.compute.positions,
        last.compute.train_steps
    );
    println!(
        "training FLOPs {:.3e}, self-play FLOPs {:.3e}",
        last.compute.train_flops as f64, last.compute.selfplay_flops as f64
    );
    println!(
        "final losses: policy {:.4}, value {:.4}",
        last.loss_policy, last.loss_value
    );
    println!("record: {}", a.out.join("train.json").display());
    println!(
        "last snapshot: {}",
        selfplay::last_snapshot(&a.out)?.display()
    );
    Ok(())
}

fn load_solver(n: usize, cache: Option<&PathBuf>) -> anyhow::Result<Solver> {
    Ok(match cache {
        Some(p) if p.exists() => Solver::load(p, n)?,
        _ => Solver::new(n)?,
    })
}

#[derive(Serialize)]
struct TournamentOut {
    size: usize,
    pairs: usize,
    open_plies: usize,
    seed: u64,
    agents: Vec<agent::AgentInfo>,
    elo: Vec<ladder_rl::elo::EloEntry>,
    wins: Vec<Vec<u32>>,
    error_rates: Vec<Option<agent::ErrorRate>>,
}

fn tournament(a: TournamentArgs) -> anyhow::Result<()> {
    set_threads(a.threads)?;
    Board::new(a.size, false)?;
    if a.pairs == 0 {
        bail!("--pairs must be at least 1");
    }
    let mut specs = a.agents.clone();
    if !specs.iter().any(|s| s == "random") {
        specs.insert(0, "random".into());
    }
    let mut seen = std::collections::HashSet::new();
    for s in &specs {
        if !seen.insert(s) {
            bail!("agent '{s}' is listed twice");
        }
    }
    let mut shared: Option<SharedSolver> = None;
    if a.size <= ladder_rl::solver::MAX_SOLVER_SIZE
        && (a.error_games > 0 || specs.iter().any(|s| s == "solver"))
    {
        shared = Some(Arc::new(Mutex::new(load_solver(
            a.size,
            a.solver_cache.as_ref(),
        )?)));
    }
    let mut agents = Vec::new();
    let mut infos = Vec::new();
    for s in &specs {
        let (ag, info) = Agent::parse(s, a.size, &mut shared)?;
        agents.push(ag);
        infos.push(info);
    }
    let k = agents.len();
    let total = (k * (k - 1) / 2 * a.pairs) as u64;
    let pb = bar(total, "game pairs");
    let results = {
        let pb = pb.clone();
        agent::round_robin(
            &agents,
            &specs,
            a.size,
            a.pairs,
            a.open_plies,
            a.seed,
            &move || pb.inc(1),
        )
    };
    pb.finish_and_clear();
    let anchor = specs
        .iter()
        .position(|s| s == "random")
        .context("random is always present")?;
    let table = ladder_rl::elo::table(&specs, &results.wins, anchor, a.bootstrap, a.seed)?;
    let mut errors = vec![None; k];
    if let (Some(s), true) = (&shared, a.error_games > 0) {
        let pb = bar(k as u64, "error rates");
        for (i, ag) in agents.iter().enumerate() {
            errors[i] = Some(agent::error_rate(
                ag,
                s,
                a.size,
                a.error_games,
                a.open_plies.max(1),
                a.seed,
            )?);
            pb.inc(1);
        }
        pb.finish_and_clear();
    }
    println!("{}x{} Hex, {} game pairs per pair of agents, Elo (random = 0) with 95% bootstrap intervals:", a.size, a.size, a.pairs);
    println!(
        "{:>8} {:>17} {:>6} {:>6} {:>16}  agent",
        "Elo", "95% interval", "games", "score", "error rate"
    );
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&i, &j| table[j].elo.total_cmp(&table[i].elo));
    for i in order {
        let e = &table[i];
        let err = match &errors[i] {
            Some(r) => format!("{:.4} ± {:.4}", r.rate, r.se),
            None => "-".into(),
        };
        println!(
            "{:>8.0} [{:>7.0}, {:>7.0}] {:>6} {:>6.3} {:>16}  {}",
            e.elo, e.lo, e.hi, e.games, e.score, err, e.name
        );
    }
    if let (Some(path), Some(s)) = (&a.solver_cache, &shared) {
        s.lock()
            .map_err(|_| anyhow::anyhow!("solver lock poisoned"))?
            .save(path)?;
    }
    if let Some(out) = &a.out {
        let o = TournamentOut {
            size: a.size,
            pairs: a.pairs,
            open_plies: a.open_plies,
            seed: a.seed,
            agents: infos,
            elo: table,
            wins: results.wins,
            error_rates: errors,
        };
        ladder_rl::fsutil::write_json_atomic(out, &o)?;
        println!("wrote {}", out.display());
    }
    Ok(())
}

fn parse_moves(board: &mut Board, text: &str) -> anyhow::Result<()> {
    for tok in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
    {
        let m = board.parse_move(tok)?;
        board.play(m)?;
    }
    Ok(())
}

#[derive(Serialize)]
struct SolveOut {
    size: usize,
    moves: String,
    to_move: Player,
    to_move_wins: bool,
    winning_moves: Vec<String>,
    table_positions: usize,
    seconds: f64,
}

fn solve(a: SolveArgs) -> anyhow::Result<()> {
    let mut board = Board::new(a.size, false)?;
    parse_moves(&mut board, &a.moves)?;
    let mut s = load_solver(a.size, a.cache.as_ref())?;
    let t0 = Instant::now();
    let wins = s.winning_moves(&board)?;
    let secs = t0.elapsed().as_secs_f64();
    if let Some(p) = &a.cache {
        s.save(p)?;
    }
    let names: Vec<String> = wins.iter().map(|&m| board.move_name(m)).collect();
    if a.json {
        let o = SolveOut {
            size: a.size,
            moves: a.moves.clone(),
            to_move: board.to_move(),
            to_move_wins: !wins.is_empty(),
            winning_moves: names,
            table_positions: s.table_len(),
            seconds: secs,
        };
        println!("{}", serde_json::to_string(&o)?);
        return Ok(());
    }
    let mut drawn = board.to_string();
    if !wins.is_empty() {
        // Mark winning cells with '*' in the drawing (each cell is one character on its row line).
        let n = a.size;
        let mut lines: Vec<String> = drawn.lines().map(String::from).collect();
        for &m in &wins {
            let (r, c) = (m / n, m % n);
            let line = &mut lines[1 + r];
            let col = 3 + r + 1 + 2 * c;
            line.replace_range(col..col + 1, "*");
        }
        drawn = lines.join("\n");
    }
    println!("{drawn}");
    if board.is_over() {
        println!(
            "the game is over: {} has won",
            board.winner().map(|p| p.to_string()).unwrap_or_default()
        );
    } else if wins.is_empty() {
        println!(
            "{} to move loses against perfect play (every move is optimal)",
            board.to_move()
        );
    } else {
        println!(
            "{} to move wins; winning moves ({}): {}",
            board.to_move(),
            wins.len(),
            names.join(" ")
        );
    }
    println!(
        "solved in {:.2} s; table holds {} positions",
        secs,
        s.table_len()
    );
    Ok(())
}

fn play(a: PlayArgs) -> anyhow::Result<()> {
    let me = match a.colour.to_ascii_lowercase().as_str() {
        "black" | "b" | "x" => Player::Black,
        "white" | "w" | "o" => Player::White,
        other => bail!("--as '{other}': use black or white"),
    };
    let mut board = Board::new(a.size, a.swap)?;
    let mut shared = None;
    let (agent, _) = Agent::parse(&a.agent, a.size, &mut shared)?;
    if a.swap && !matches!(agent, Agent::Random) {
        bail!("only the random agent plays with --swap (the solver and the networks are for games without the swap rule)");
    }
    let mut rng = agent::seeded_rng(a.seed);
    println!(
        "You are {me} ({}). Black connects top and bottom, White left and right.",
        if me == Player::Black { "X" } else { "O" }
    );
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    while !board.is_over() {
        println!("\n{board}\n");
        if board.to_move() == me {
            print!("your move: ");
            std::io::stdout().flush()?;
            let Some(line) = lines.next() else {
                println!("\nend of input: game abandoned");
                return Ok(());
            };
            let line = line?;
            let t = line.trim();
            if t == "quit" || t == "q" {
                println!("game abandoned");
                return Ok(());
            }
            match board.parse_move(t).and_then(|m| board.play(m)) {
                Ok(()) => {}
                Err(e) => println!("{}", e.to_string().lines().next().unwrap_or("illegal move")),
            }
        } else {
            let m = agent.choose(&board, &mut rng);
            println!("{} plays {}", a.agent, board.move_name(m));
            board.play(m)?;
        }
    }
    println!("\n{board}\n");
    let w = board.winner().context("finished game has a winner")?;
    println!("{}", if w == me { "You win." } else { "You lose." });
    Ok(())
}
