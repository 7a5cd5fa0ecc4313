//! Exact solver for Hex on boards up to 5×5 (without the swap rule): the value of any position
//! (does the player to move win?) and its optimal moves.
//!
//! Positions are two 25-bit masks (Black's and White's stones); the player to move follows from the
//! stone counts. The search is a negamax over win/loss with a transposition table (no draws in Hex,
//! so a value is one bit): a position is won when some move wins at once or leads to a position lost
//! for the opponent. Moves are tried centre first, which finds the winning move early. Values are
//! computed on demand and every solved position stays in the table, so the table holds the value of
//! every position any query has touched; [`Solver::save`] writes it to disk and [`Solver::load`]
//! reads it back (versioned binary format with a SHA-256 checksum, written atomically).

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::hex::{Board, Move, Player};
use crate::{Error, Result};

const MAGIC: &[u8; 8] = b"LDRHEXSV";
const VERSION: u32 = 1;
/// Largest board the solver accepts.
pub const MAX_SOLVER_SIZE: usize = 5;

/// Solver for one board size; holds the transposition table.
pub struct Solver {
    n: usize,
    full: u32,
    nbr: Vec<u32>,
    top: u32,
    bottom: u32,
    left: u32,
    right: u32,
    order: Vec<usize>,
    tt: HashMap<u64, bool>,
    nodes: u64,
}

fn key(b: u32, w: u32) -> u64 {
    b as u64 | (w as u64) << 32
}

impl Solver {
    /// An empty solver for n×n boards, n ≤ 5.
    pub fn new(n: usize) -> Result<Solver> {
        if !(crate::hex::MIN_SIZE..=MAX_SOLVER_SIZE).contains(&n) {
            return Err(Error::SolverUnsupported(format!("{n}x{n}")));
        }
        let board = Board::new(n, false)?;
        let nbr = (0..n * n)
            .map(|i| board.neighbours(i).fold(0u32, |m, j| m | 1 << j))
            .collect();
        let (mut top, mut bottom, mut left, mut right) = (0, 0, 0, 0);
        for k in 0..n {
            top |= 1 << k;
            bottom |= 1 << ((n - 1) * n + k);
            left |= 1 << (k * n);
            right |= 1 << (k * n + n - 1);
        }
        // Centre first: order cells by distance from the centre (ties by index), which puts the
        // strong moves early and makes the short-circuit on a winning move fire sooner.
        let mut order: Vec<usize> = (0..n * n).collect();
        let c = (n as f64 - 1.0) / 2.0;
        let dist = |i: usize| {
            let (r, q) = ((i / n) as f64 - c, (i % n) as f64 - c);
            // hex distance in axial coordinates (r, q): (|dr| + |dq| + |dr + dq|) / 2
            ((r.abs() + q.abs() + (r + q).abs()) * 1000.0) as i64
        };
        order.sort_by_key(|&i| (dist(i), i));
        Ok(Solver {
            n,
            full: if n * n == 32 {
                u32::MAX
            } else {
                (1u32 << (n * n)) - 1
            },
            nbr,
            top,
            bottom,
            left,
            right,
            order,
            tt: HashMap::new(),
            nodes: 0,
        })
    }

    /// Board side.
    pub fn size(&self) -> usize {
        self.n
    }

    /// Positions in the transposition table.
    pub fn table_len(&self) -> usize {
        self.tt.len()
    }

    /// Positions expanded by the search so far (not counting table hits).
    pub fn nodes(&self) -> u64 {
        self.nodes
    }

    fn connects(&self, stones: u32, from: u32, to: u32) -> bool {
        let mut reach = stones & from;
        let mut frontier = reach;
        while frontier != 0 {
            let i = frontier.trailing_zeros() as usize;
            frontier &= frontier - 1;
            let new = self.nbr[i] & stones & !reach;
            reach |= new;
            frontier |= new;
        }
        reach & to != 0
    }

    /// Whether the player to move wins the non-terminal position (b, w) with perfect play.
    fn wins(&mut self, b: u32, w: u32) -> bool {
        let k = key(b, w);
        if let Some(&v) = self.tt.get(&k) {
            return v;
        }
        self.nodes += 1;
        let black = b.count_ones() == w.count_ones();
        let empty = self.full & !(b | w);
        // A move that connects at once wins; checking all of them first avoids deep searches.
        for idx in 0..self.order.len() {
            let i = self.order[idx];
            if empty & (1 << i) == 0 {
                continue;
            }
            let won = if black {
                self.connects(b | 1 << i, self.top, self.bottom)
            } else {
                self.connects(w | 1 << i, self.left, self.right)
            };
            if won {
                self.tt.insert(k, true);
                return true;
            }
        }
        // No immediate win, so every child is non-terminal.
        for idx in 0..self.order.len() {
            let i = self.order[idx];
            if empty & (1 << i) == 0 {
                continue;
            }
            let (nb, nw) = if black {
                (b | 1 << i, w)
            } else {
                (b, w | 1 << i)
            };
            if !self.wins(nb, nw) {
                self.tt.insert(k, true);
                return true;
            }
        }
        self.tt.insert(k, false);
        false
    }

    fn check(&self, board: &Board) -> Result<()> {
        if board.size() != self.n || board.swap_rule() {
            return Err(Error::SolverUnsupported(format!(
                "a {0}x{0} board{1} (this solver is for {2}x{2} without swap)",
                board.size(),
                if board.swap_rule() {
                    " with the swap rule"
                } else {
                    ""
                },
                self.n
            )));
        }
        Ok(())
    }

    /// Whether the player to move wins with perfect play (false once the game is over: they lost).
    pub fn to_move_wins(&mut self, board: &Board) -> Result<bool> {
        self.check(board)?;
        if board.is_over() {
            return Ok(false);
        }
        let (b, w) = board.masks();
        Ok(self.wins(b, w))
    }

    /// Winner with perfect play from this position.
    pub fn perfect_winner(&mut self, board: &Board) -> Result<Player> {
        let p = board.to_move();
        Ok(if self.to_move_wins(board)? {
            p
        } else {
            p.other()
        })
    }

    /// Moves after which the player to move still wins (empty in a lost position).
    pub fn winning_moves(&mut self, board: &Board) -> Result<Vec<Move>> {
        self.check(board)?;
        let mut out = Vec::new();
        for m in board.legal_moves() {
            let mut child = board.clone();
            child.play(m)?;
            if child.winner() == Some(board.to_move()) || !self.to_move_wins(&child)? {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// Optimal moves: the winning moves in a won position; in a lost position every move loses
    /// against perfect play, so every legal move is optimal.
    pub fn optimal_moves(&mut self, board: &Board) -> Result<Vec<Move>> {
        let wins = self.winning_moves(board)?;
        Ok(if wins.is_empty() {
            board.legal_moves()
        } else {
            wins
        })
    }

    /// Writes the table: magic, version, n, count, sorted entries (key with the value in bit 63),
    /// then the SHA-256 of everything before it. Atomic.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut entries: Vec<u64> = self
            .tt
            .iter()
            .map(|(&k, &v)| k | (v as u64) << 63)
            .collect();
        entries.sort_unstable();
        let mut bytes = Vec::with_capacity(24 + 8 * entries.len() + 32);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&(self.n as u32).to_le_bytes());
        bytes.extend_from_slice(&(entries.len() as u64).to_le_bytes());
        for e in entries {
            bytes.extend_from_slice(&e.to_le_bytes());
        }
        let digest = Sha256::digest(&bytes);
        bytes.extend_from_slice(&digest);
        crate::fsutil::write_atomic(path, &bytes)
    }

    /// Reads a table written by [`Solver::save`] for n×n boards, checking magic, version, size,
    /// length and checksum.
    pub fn load(path: &Path, n: usize) -> Result<Solver> {
        let bad = |reason: String| Error::BadCache {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if bytes.len() < 24 + 32 || &bytes[..8] != MAGIC {
            return Err(bad(
                "not a ladder Hex solver cache (bad magic or too short)".into(),
            ));
        }
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
        let version = u32_at(8);
        if version != VERSION {
            return Err(bad(format!(
                "format version {version}, this build reads {VERSION}"
            )));
        }
        let file_n = u32_at(12) as usize;
        if file_n != n {
            return Err(bad(format!(
                "it is for {file_n}x{file_n} boards, not {n}x{n}"
            )));
        }
        let count = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")) as usize;
        if bytes.len() != 24 + 8 * count + 32 {
            return Err(bad(format!(
                "length {} does not match its {count} entries",
                bytes.len()
            )));
        }
        let body = &bytes[..bytes.len() - 32];
        if Sha256::digest(body).as_slice() != &bytes[bytes.len() - 32..] {
            return Err(bad(
                "checksum mismatch (the file is corrupt or truncated)".into()
            ));
        }
        let mut s = Solver::new(n)?;
        s.tt.reserve(count);
        for c in body[24..].chunks_exact(8) {
            let e = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            s.tt.insert(e & !(1 << 63), e >> 63 == 1);
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain minimax on the union-find board, no table, no ordering: an independent count.
    fn brute_wins(board: &Board) -> bool {
        let me = board.to_move();
        board.legal_moves().into_iter().any(|m| {
            let mut c = board.clone();
            c.play(m).unwrap();
            c.winner() == Some(me) || !brute_wins(&c)
        })
    }

    /// An independent exhaustive minimax for the first-move count: its own win test (a
    /// breadth-first search over `Board::neighbours`), moves in index order, memoised in a flat
    /// array indexed by the base-3 code of the board (0 = unknown, 1 = to-move wins, 2 = loses).
    struct Brute {
        n: usize,
        nbrs: Vec<Vec<usize>>,
        memo: Vec<u8>,
    }

    impl Brute {
        fn new(n: usize) -> Brute {
            let b = Board::new(n, false).unwrap();
            let nbrs = (0..n * n).map(|i| b.neighbours(i).collect()).collect();
            Brute {
                n,
                nbrs,
                memo: vec![0; 3usize.pow((n * n) as u32)],
            }
        }

        /// Does `colour` (1 = Black top-bottom, 2 = White left-right) connect its edges?
        fn connected(&self, cells: &[u8], colour: u8) -> bool {
            let n = self.n;
            let start: Vec<usize> = (0..n)
                .map(|k| if colour == 1 { k } else { k * n })
                .filter(|&i| cells[i] == colour)
                .collect();
            let mut seen = vec![false; n * n];
            let mut queue = std::collections::VecDeque::from(start);
            while let Some(i) = queue.pop_front() {
                if seen[i] {
                    continue;
                }
                seen[i] = true;
                if (colour == 1 && i / n == n - 1) || (colour == 2 && i % n == n - 1) {
                    return true;
                }
                for &j in &self.nbrs[i] {
                    if cells[j] == colour && !seen[j] {
                        queue.push_back(j);
                    }
                }
            }
            false
        }

        fn wins(&mut self, cells: &mut [u8], code: usize, me: u8) -> bool {
            if self.memo[code] != 0 {
                return self.memo[code] == 1;
            }
            let mut result = false;
            for i in 0..cells.len() {
                if cells[i] != 0 {
                    continue;
                }
                cells[i] = me;
                let child = code + me as usize * 3usize.pow(i as u32);
                let win = self.connected(cells, me) || !self.wins(cells, child, 3 - me);
                cells[i] = 0;
                if win {
                    result = true;
                    break;
                }
            }
            self.memo[code] = if result { 1 } else { 2 };
            result
        }
    }

    fn brute_winning_first_moves(n: usize) -> Vec<Move> {
        let mut brute = Brute::new(n);
        let mut cells = vec![0u8; n * n];
        (0..n * n)
            .filter(|&m| {
                cells[m] = 1;
                let lost = !brute.wins(&mut cells, 3usize.pow(m as u32), 2);
                cells[m] = 0;
                lost
            })
            .collect()
    }

    #[test]
    fn centre_opening_wins_on_small_boards() {
        // 3x3: the centre b2 wins.
        let mut s = Solver::new(3).unwrap();
        let b = Board::from_moves(3, false, &["b2"]).unwrap();
        assert!(!s.to_move_wins(&b).unwrap(), "White to move after b2 loses");
        // 4x4 has four centre cells: the two on the short diagonal (c2, b3) win, the two on the
        // long diagonal (b2, c3) lose — the known 4x4 result.
        let mut s = Solver::new(4).unwrap();
        for (cell, wins) in [("c2", true), ("b3", true), ("b2", false), ("c3", false)] {
            let b = Board::from_moves(4, false, &[cell]).unwrap();
            assert_eq!(!s.to_move_wins(&b).unwrap(), wins, "4x4 opening {cell}");
        }
        // The first player wins every size (strategy stealing).
        for n in 3..=4 {
            let mut s = Solver::new(n).unwrap();
            assert!(s.to_move_wins(&Board::new(n, false).unwrap()).unwrap());
        }
    }

    /// Minutes in a test build on one core and ~1e8 table entries: run with `--ignored`.
    #[test]
    #[ignore]
    fn centre_opening_wins_on_5x5() {
        let mut s = Solver::new(5).unwrap();
        let b = Board::from_moves(5, false, &["c3"]).unwrap();
        let t0 = std::time::Instant::now();
        assert!(!s.to_move_wins(&b).unwrap(), "White to move after c3 loses");
        eprintln!(
            "5x5 after c3: {:.1} s, {} positions expanded, table {}",
            t0.elapsed().as_secs_f64(),
            s.nodes(),
            s.table_len()
        );
    }

    #[test]
    fn winning_first_moves_match_brute_force_3x3_and_4x4() {
        for n in [3, 4] {
            let mut s = Solver::new(n).unwrap();
            let got = s.winning_moves(&Board::new(n, false).unwrap()).unwrap();
            let want = brute_winning_first_moves(n);
            assert_eq!(got, want, "{n}x{n}");
        }
    }

    #[test]
    fn every_position_on_3x3_agrees_with_brute_force() {
        // Walk every reachable 3x3 position and compare the solver's value with plain minimax.
        fn walk(b: &Board, s: &mut Solver, count: &mut usize) {
            *count += 1;
            assert_eq!(
                s.to_move_wins(b).unwrap(),
                !b.is_over() && brute_wins(b),
                "\n{b}"
            );
            for m in b.legal_moves() {
                let mut c = b.clone();
                c.play(m).unwrap();
                walk(&c, s, count);
            }
        }
        let mut s = Solver::new(3).unwrap();
        let mut count = 0;
        walk(&Board::new(3, false).unwrap(), &mut s, &mut count);
        assert!(count > 10_000);
    }

    #[test]
    fn cache_round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hex4.solve");
        let mut s = Solver::new(4).unwrap();
        let b = Board::new(4, false).unwrap();
        let moves = s.winning_moves(&b).unwrap();
        s.save(&path).unwrap();
        let mut t = Solver::load(&path, 4).unwrap();
        assert_eq!(t.table_len(), s.table_len());
        assert_eq!(t.winning_moves(&b).unwrap(), moves);
        assert_eq!(t.nodes(), 0, "everything came from the cache");
        assert!(matches!(
            Solver::load(&path, 3),
            Err(Error::BadCache { .. })
        ));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[30] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = Solver::load(&path, 4).err().unwrap().to_string();
        assert!(err.contains("checksum"), "{err}");
        std::fs::write(&path, &bytes[..40]).unwrap();
        assert!(Solver::load(&path, 4).is_err());
    }

    #[test]
    fn refuses_large_boards_and_swap() {
        assert!(Solver::new(6).is_err());
        let mut s = Solver::new(3).unwrap();
        assert!(s.to_move_wins(&Board::new(3, true).unwrap()).is_err());
    }
}
