//! Monte-Carlo tree search with PUCT (AlphaZero; Silver et al. 2018).
//!
//! Each simulation walks down from the root choosing the child that maximises
//! `Q + c_puct · P · sqrt(N_parent) / (1 + N_child)` (Q = mean value for the player choosing, 0 for
//! unvisited children; ties go to the lowest move index), expands the leaf with the evaluator's
//! priors and value, and backs the value up with alternating signs. A finished game is valued
//! exactly (the player to move has lost). `nodes` is the number of simulations, each of which
//! expands at most one node; `nodes = 0` means "no search": the move is the evaluator's argmax prior.
//! Everything random (rollouts) draws from the caller's seeded generator, so a search is a pure
//! function of (position, evaluator, config, generator state).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::hex::{Board, Move};

/// What MCTS needs from a model: priors over the legal moves and a value.
pub trait Evaluator {
    /// `priors[k]` for `moves[k]` (non-negative, summing to 1) and the value in [-1, 1] of the
    /// (unfinished) position for the player to move.
    fn evaluate(&mut self, board: &Board, moves: &[Move], rng: &mut ChaCha8Rng) -> (Vec<f32>, f32);
}

/// Uniform priors; the value is the result of one uniformly random playout (classic MCTS).
#[derive(Debug, Clone, Copy, Default)]
pub struct UniformRollout;

/// Plays uniformly random moves to the end; +1 if the player to move at `board` wins.
pub fn random_playout(board: &Board, rng: &mut ChaCha8Rng) -> f32 {
    let me = board.to_move();
    let mut b = board.clone();
    let mut moves = b.legal_moves();
    while !b.is_over() {
        let k = rng.random_range(0..moves.len());
        let m = moves.swap_remove(k);
        if m == b.swap_move() {
            b.play(m).expect("legal");
            moves = b.legal_moves();
            continue;
        }
        b.play(m).expect("legal");
        moves.retain(|&x| x != b.swap_move());
    }
    if b.winner() == Some(me) {
        1.0
    } else {
        -1.0
    }
}

impl Evaluator for UniformRollout {
    fn evaluate(&mut self, board: &Board, moves: &[Move], rng: &mut ChaCha8Rng) -> (Vec<f32>, f32) {
        let p = 1.0 / moves.len() as f32;
        (vec![p; moves.len()], random_playout(board, rng))
    }
}

/// Search settings.
#[derive(Debug, Clone, Copy)]
pub struct MctsConfig {
    /// Simulations per move (0: play the argmax prior).
    pub nodes: usize,
    /// Exploration constant of PUCT.
    pub c_puct: f32,
}

impl Default for MctsConfig {
    fn default() -> Self {
        MctsConfig {
            nodes: 64,
            c_puct: 1.5,
        }
    }
}

/// Result of a search at the root.
#[derive(Debug, Clone)]
pub struct SearchResult {
    /// Legal moves at the root.
    pub moves: Vec<Move>,
    /// Visit fractions of `moves` (the evaluator's priors when `nodes = 0`).
    pub policy: Vec<f32>,
    /// Value of the root for the player to move: mean backed-up value (the evaluator's value when `nodes = 0`).
    pub value: f32,
    /// Evaluator calls made.
    pub evals: u64,
}

impl SearchResult {
    /// The most visited move (highest prior when `nodes = 0`); ties go to the lowest move index.
    pub fn best(&self) -> Move {
        let mut best = 0;
        for k in 1..self.moves.len() {
            if self.policy[k] > self.policy[best] {
                best = k;
            }
        }
        self.moves[best]
    }
}

struct Node {
    mv: Move,
    prior: f32,
    visits: u32,
    /// Sum of values from the view of the player who moved into this node.
    value_sum: f32,
    first_child: usize,
    children: usize,
    expanded: bool,
}

/// Searches `board` (not finished) and returns the root's visit distribution.
pub fn search(
    board: &Board,
    eval: &mut dyn Evaluator,
    cfg: &MctsConfig,
    rng: &mut ChaCha8Rng,
) -> SearchResult {
    assert!(!board.is_over(), "search needs an unfinished position");
    let root_moves = board.legal_moves();
    if cfg.nodes == 0 {
        let (priors, value) = eval.evaluate(board, &root_moves, rng);
        return SearchResult {
            moves: root_moves,
            policy: priors,
            value,
            evals: 1,
        };
    }
    let mut tree = vec![Node {
        mv: usize::MAX,
        prior: 1.0,
        visits: 0,
        value_sum: 0.0,
        first_child: 0,
        children: 0,
        expanded: false,
    }];
    let mut evals = 0;
    let mut path = Vec::new();
    for _ in 0..cfg.nodes {
        let mut b = board.clone();
        path.clear();
        path.push(0usize);
        let mut node = 0;
        while tree[node].expanded && !b.is_over() {
            let parent_visits = tree[node].visits as f32;
            let sqrt_n = parent_visits.sqrt();
            let (start, count) = (tree[node].first_child, tree[node].children);
            let mut best = start;
            let mut best_score = f32::NEG_INFINITY;
            for (ch, c) in tree.iter().enumerate().skip(start).take(count) {
                let q = if c.visits > 0 {
                    c.value_sum / c.visits as f32
                } else {
                    0.0
                };
                let score = q + cfg.c_puct * c.prior * sqrt_n / (1.0 + c.visits as f32);
                if score > best_score {
                    best_score = score;
                    best = ch;
                }
            }
            b.play(tree[best].mv).expect("tree moves are legal");
            node = best;
            path.push(node);
        }
        // Value of the leaf for its player to move.
        let v = if b.is_over() {
            -1.0
        } else {
            let moves = b.legal_moves();
            let (priors, v) = eval.evaluate(&b, &moves, rng);
            evals += 1;
            let first = tree.len();
            for (k, &m) in moves.iter().enumerate() {
                tree.push(Node {
                    mv: m,
                    prior: priors[k],
                    visits: 0,
                    value_sum: 0.0,
                    first_child: 0,
                    children: 0,
                    expanded: false,
                });
            }
            let leaf = &mut tree[node];
            leaf.first_child = first;
            leaf.children = moves.len();
            leaf.expanded = true;
            v
        };
        // The leaf's mover gets -v, its parent's mover +v, and so on up.
        let mut sign = -1.0;
        for &i in path.iter().rev() {
            tree[i].visits += 1;
            tree[i].value_sum += sign * v;
            sign = -sign;
        }
    }
    let root = &tree[0];
    let total: u32 = (root.first_child..root.first_child + root.children)
        .map(|c| tree[c].visits)
        .sum();
    let policy = (root.first_child..root.first_child + root.children)
        .map(|c| tree[c].visits as f32 / total.max(1) as f32)
        .collect();
    // The root's value_sum is from the view of the player who moved into it: negate.
    let value = -root.value_sum / root.visits.max(1) as f32;
    SearchResult {
        moves: root_moves,
        policy,
        value,
        evals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn best(board: &Board, nodes: usize, seed: u64) -> Move {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        search(
            board,
            &mut UniformRollout,
            &MctsConfig { nodes, c_puct: 1.5 },
            &mut rng,
        )
        .best()
    }

    fn wins_at_once(b: &Board) -> bool {
        b.legal_moves().into_iter().any(|m| {
            let mut c = b.clone();
            c.play(m).unwrap();
            c.winner() == Some(b.to_move())
        })
    }

    #[test]
    fn finds_a_win_in_one() {
        // 4x4, Black (top-bottom) holds b1, b2, b3: b4 or a4 connects at once.
        let b = Board::from_moves(4, false, &["b1", "a1", "b2", "a2", "b3", "d4"]).unwrap();
        assert_eq!(b.to_move(), crate::hex::Player::Black);
        for seed in 0..5 {
            let m = best(&b, 400, seed);
            let mut c = b.clone();
            c.play(m).unwrap();
            assert_eq!(
                c.winner(),
                Some(crate::hex::Player::Black),
                "seed {seed}: {}",
                b.move_name(m)
            );
        }
    }

    #[test]
    fn finds_a_win_in_two() {
        // 4x4, Black to move with b1 and a4, White d1 and c2:
        //     a b c d
        //  1  . X . O
        //  2   . . O .
        //  3    . . . .
        //  4     X . . .
        // No move wins at once; b2 (or a3) makes two bridges' worth of threats, so every White
        // reply leaves a winning move. The set of such moves is computed by brute force here.
        let b = Board::from_moves(4, false, &["b1", "d1", "a4", "c2"]).unwrap();
        assert!(!wins_at_once(&b));
        let win_in_two: Vec<Move> = b
            .legal_moves()
            .into_iter()
            .filter(|&m| {
                let mut c = b.clone();
                c.play(m).unwrap();
                c.legal_moves().into_iter().all(|r| {
                    let mut d = c.clone();
                    d.play(r).unwrap();
                    d.winner().is_none() && wins_at_once(&d)
                })
            })
            .collect();
        assert_eq!(
            win_in_two,
            vec![b.parse_move("b2").unwrap(), b.parse_move("a3").unwrap()]
        );
        for seed in 0..5 {
            let m = best(&b, 2000, seed);
            assert!(
                win_in_two.contains(&m),
                "seed {seed}: {} does not force a win",
                b.move_name(m)
            );
        }
    }

    #[test]
    fn same_seed_same_search() {
        let b = Board::from_moves(5, false, &["c3"]).unwrap();
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            search(
                &b,
                &mut UniformRollout,
                &MctsConfig {
                    nodes: 300,
                    c_puct: 1.5,
                },
                &mut rng,
            )
            .policy
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }
}
