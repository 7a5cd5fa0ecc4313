//! Hex on an n×n rhombus, n = 3..9.
//!
//! Coordinates are the standard ones: columns are letters `a..`, rows are numbers `1..`, so `a1` is
//! the top-left corner. Cell (row r, column c) has index `r·n + c` and six neighbours:
//! (r-1, c), (r-1, c+1), (r, c-1), (r, c+1), (r+1, c-1), (r+1, c) — the board is drawn with each row
//! shifted half a cell to the right of the one above it.
//!
//! Black moves first and connects the top edge (row 1) to the bottom edge (row n); White connects
//! the left edge (column a) to the right edge (column n). Win detection is a union-find over the
//! n² cells plus four virtual edge nodes, so a stone on an edge is joined to that edge's node when it
//! is placed; a corner cell lies on two edges (one of each colour), and only the edge of the stone's
//! own colour counts for it. There are no draws in Hex: a full board has exactly one winner.
//!
//! Swap rule (optional): on the second move White may, instead of placing a stone, take over Black's
//! first stone. It is implemented as "swap pieces": Black's stone at (r, c) becomes a White stone at
//! the mirrored cell (c, r), and Black moves next, so colours keep their edges.

use serde::{Deserialize, Serialize};

use crate::Error;

/// Smallest supported board side.
pub const MIN_SIZE: usize = 3;
/// Largest supported board side.
pub const MAX_SIZE: usize = 9;

/// One of the two players.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Player {
    /// Moves first; connects row 1 to row n.
    Black,
    /// Moves second; connects column a to the last column.
    White,
}

impl Player {
    /// The other player.
    pub fn other(self) -> Player {
        match self {
            Player::Black => Player::White,
            Player::White => Player::Black,
        }
    }
}

impl std::fmt::Display for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Player::Black => "black",
            Player::White => "white",
        })
    }
}

/// A move: a cell index `r·n + c`, or [`Board::swap_move`] (`n²`) for the swap.
pub type Move = usize;

/// Union-find with path halving and union by size.
#[derive(Debug, Clone)]
struct UnionFind {
    parent: Vec<u16>,
    size: Vec<u16>,
}

impl UnionFind {
    fn new(len: usize) -> Self {
        UnionFind {
            parent: (0..len as u16).collect(),
            size: vec![1; len],
        }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] as usize != x {
            let grand = self.parent[self.parent[x] as usize];
            self.parent[x] = grand;
            x = grand as usize;
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (mut ra, mut rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        if self.size[ra] < self.size[rb] {
            std::mem::swap(&mut ra, &mut rb);
        }
        self.parent[rb] = ra as u16;
        self.size[ra] += self.size[rb];
    }
}

/// A Hex position with its history-free state: stones, player to move, winner.
#[derive(Debug, Clone)]
pub struct Board {
    n: usize,
    cells: Vec<Option<Player>>,
    to_move: Player,
    stones: usize,
    swap_rule: bool,
    swap_available: bool,
    winner: Option<Player>,
    uf: UnionFind,
}

impl Board {
    /// An empty n×n board, Black to move. `swap_rule` allows White to swap on the second move.
    pub fn new(n: usize, swap_rule: bool) -> Result<Board, Error> {
        if !(MIN_SIZE..=MAX_SIZE).contains(&n) {
            return Err(Error::BoardSize(n));
        }
        Ok(Board {
            n,
            cells: vec![None; n * n],
            to_move: Player::Black,
            stones: 0,
            swap_rule,
            swap_available: false,
            winner: None,
            uf: UnionFind::new(n * n + 4),
        })
    }

    /// Board side n.
    pub fn size(&self) -> usize {
        self.n
    }

    /// Whether the swap rule is on.
    pub fn swap_rule(&self) -> bool {
        self.swap_rule
    }

    /// The move index that means "swap".
    pub fn swap_move(&self) -> Move {
        self.n * self.n
    }

    /// Player to move.
    pub fn to_move(&self) -> Player {
        self.to_move
    }

    /// Stone on cell `i`, if any.
    pub fn cell(&self, i: usize) -> Option<Player> {
        self.cells[i]
    }

    /// Number of stones on the board.
    pub fn stones(&self) -> usize {
        self.stones
    }

    /// The winner, once someone has connected their edges.
    pub fn winner(&self) -> Option<Player> {
        self.winner
    }

    /// Whether the game is over.
    pub fn is_over(&self) -> bool {
        self.winner.is_some()
    }

    /// Legal moves in increasing index order (the swap, when legal, comes last). Empty when over.
    pub fn legal_moves(&self) -> Vec<Move> {
        if self.winner.is_some() {
            return Vec::new();
        }
        let mut moves: Vec<Move> = (0..self.n * self.n)
            .filter(|&i| self.cells[i].is_none())
            .collect();
        if self.swap_available {
            moves.push(self.swap_move());
        }
        moves
    }

    /// Whether `m` is legal now.
    pub fn is_legal(&self, m: Move) -> bool {
        if self.winner.is_some() {
            return false;
        }
        if m == self.swap_move() {
            return self.swap_available;
        }
        m < self.n * self.n && self.cells[m].is_none()
    }

    /// Neighbours of cell `i` on the board (2 to 6 of them).
    pub fn neighbours(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let n = self.n as isize;
        let (r, c) = ((i / self.n) as isize, (i % self.n) as isize);
        const D: [(isize, isize); 6] = [(-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0)];
        D.iter().filter_map(move |&(dr, dc)| {
            let (rr, cc) = (r + dr, c + dc);
            (rr >= 0 && rr < n && cc >= 0 && cc < n).then_some((rr * n + cc) as usize)
        })
    }

    /// Plays `m` for the player to move. Errors on an illegal move (the board is unchanged).
    pub fn play(&mut self, m: Move) -> Result<(), Error> {
        if !self.is_legal(m) {
            return Err(Error::IllegalMove {
                mv: self.move_name(m),
                position: self.to_string(),
            });
        }
        if m == self.swap_move() {
            self.apply_swap();
        } else {
            self.place(m, self.to_move);
            self.swap_available = self.swap_rule && self.stones == 1;
        }
        self.to_move = self.to_move.other();
        Ok(())
    }

    fn place(&mut self, i: usize, p: Player) {
        self.cells[i] = Some(p);
        self.stones += 1;
        let nn = self.n * self.n;
        let (r, c) = (i / self.n, i % self.n);
        // Virtual edge nodes: nn = top, nn+1 = bottom (Black), nn+2 = left, nn+3 = right (White).
        match p {
            Player::Black => {
                if r == 0 {
                    self.uf.union(i, nn);
                }
                if r == self.n - 1 {
                    self.uf.union(i, nn + 1);
                }
            }
            Player::White => {
                if c == 0 {
                    self.uf.union(i, nn + 2);
                }
                if c == self.n - 1 {
                    self.uf.union(i, nn + 3);
                }
            }
        }
        let same: Vec<usize> = self
            .neighbours(i)
            .filter(|&j| self.cells[j] == Some(p))
            .collect();
        for j in same {
            self.uf.union(i, j);
        }
        let (a, b) = match p {
            Player::Black => (nn, nn + 1),
            Player::White => (nn + 2, nn + 3),
        };
        if self.uf.find(a) == self.uf.find(b) {
            self.winner = Some(p);
        }
    }

    fn apply_swap(&mut self) {
        let i = self
            .cells
            .iter()
            .position(|c| c.is_some())
            .expect("swap needs one stone");
        let (r, c) = (i / self.n, i % self.n);
        self.cells[i] = None;
        self.stones = 0;
        self.uf = UnionFind::new(self.n * self.n + 4);
        self.place(c * self.n + r, Player::White);
        self.swap_available = false;
    }

    /// Standard name of a move: `a1`, `c3`, or `swap`.
    pub fn move_name(&self, m: Move) -> String {
        if m == self.swap_move() {
            return "swap".into();
        }
        if m > self.swap_move() {
            return format!("#{m}");
        }
        let (r, c) = (m / self.n, m % self.n);
        format!("{}{}", (b'a' + c as u8) as char, r + 1)
    }

    /// Parses `a1`..`{letter}{n}` (case-insensitive) or `swap`.
    pub fn parse_move(&self, s: &str) -> Result<Move, Error> {
        let t = s.trim().to_ascii_lowercase();
        if t == "swap" {
            return Ok(self.swap_move());
        }
        let bad = || Error::BadCoordinate {
            text: s.to_string(),
            n: self.n,
        };
        let mut chars = t.chars();
        let col = chars.next().ok_or_else(bad)?;
        if !col.is_ascii_lowercase() {
            return Err(bad());
        }
        let c = (col as u8 - b'a') as usize;
        let r: usize = chars.as_str().parse().map_err(|_| bad())?;
        if c >= self.n || r == 0 || r > self.n {
            return Err(bad());
        }
        Ok((r - 1) * self.n + c)
    }

    /// Builds a position from move names played in order (`["b2", "a1", ...]`).
    pub fn from_moves(n: usize, swap_rule: bool, moves: &[&str]) -> Result<Board, Error> {
        let mut b = Board::new(n, swap_rule)?;
        for s in moves {
            let m = b.parse_move(s)?;
            b.play(m)?;
        }
        Ok(b)
    }

    /// Bitmasks (bit i = cell i) of Black's and White's stones; needs n ≤ 5 (25 bits).
    pub fn masks(&self) -> (u32, u32) {
        debug_assert!(self.n <= 5);
        let (mut b, mut w) = (0u32, 0u32);
        for (i, c) in self.cells.iter().enumerate() {
            match c {
                Some(Player::Black) => b |= 1 << i,
                Some(Player::White) => w |= 1 << i,
                None => {}
            }
        }
        (b, w)
    }
}

impl std::fmt::Display for Board {
    /// The board with coordinates, `X` = Black, `O` = White, `.` = empty; rows shift right going down.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.n;
        write!(f, "    ")?;
        for c in 0..n {
            write!(f, "{} ", (b'a' + c as u8) as char)?;
        }
        writeln!(f)?;
        for r in 0..n {
            write!(f, "{:>2} {}", r + 1, " ".repeat(r + 1))?;
            for c in 0..n {
                let ch = match self.cells[r * n + c] {
                    Some(Player::Black) => 'X',
                    Some(Player::White) => 'O',
                    None => '.',
                };
                write!(f, "{ch} ")?;
            }
            writeln!(f, "{}", r + 1)?;
        }
        write!(f, "    {}", " ".repeat(n))?;
        for c in 0..n {
            write!(f, "{} ", (b'a' + c as u8) as char)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::seq::SliceRandom;
    use rand::SeedableRng;

    #[test]
    fn coordinates_round_trip() {
        let b = Board::new(9, false).unwrap();
        for m in 0..81 {
            assert_eq!(b.parse_move(&b.move_name(m)).unwrap(), m);
        }
        assert_eq!(b.parse_move("a1").unwrap(), 0);
        assert_eq!(b.parse_move("I9").unwrap(), 80);
        assert_eq!(b.parse_move("b1").unwrap(), 1);
        assert_eq!(b.parse_move("a2").unwrap(), 9);
        for bad in ["", "j1", "a0", "a10", "1a", "aa", "swapp"] {
            assert!(b.parse_move(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn neighbours_of_corners_edges_and_centre() {
        let b = Board::new(3, false).unwrap();
        let sorted = |i| {
            let mut v: Vec<usize> = b.neighbours(i).collect();
            v.sort();
            v
        };
        assert_eq!(sorted(0), vec![1, 3]); // a1: obtuse corner, 2 neighbours
        assert_eq!(sorted(2), vec![1, 4, 5]); // c1: acute corner, 3 neighbours
        assert_eq!(sorted(4), vec![1, 2, 3, 5, 6, 7]); // b2: 6 neighbours
        assert_eq!(sorted(8), vec![5, 7]);
    }

    #[test]
    fn black_wins_top_to_bottom_white_left_to_right() {
        // Black a1-a2-a3 down column a (two corner stones, each also on White's left edge) wins.
        let b = Board::from_moves(3, false, &["a1", "b1", "a2", "b2", "a3"]).unwrap();
        assert_eq!(b.winner(), Some(Player::Black));
        assert!(b.legal_moves().is_empty());
        // White along row 1 (a1 and c1 are corners) wins for White; Black's stones are scattered.
        let b = Board::from_moves(3, false, &["b2", "a1", "a3", "b1", "c3", "c1"]).unwrap();
        assert_eq!(b.winner(), Some(Player::White));
    }

    #[test]
    fn corner_stone_counts_only_for_its_own_colour_edges() {
        // Black along row 1 touches the top edge only (and both sides, which are White's): no win.
        let b = Board::from_moves(3, false, &["a1", "a2", "b1", "b2", "c1"]).unwrap();
        assert_eq!(b.winner(), None);
        // White down column a touches the left edge only: no win.
        let b = Board::from_moves(3, false, &["b1", "a1", "b2", "a2", "c3", "a3"]).unwrap();
        assert_eq!(b.winner(), None);
    }

    #[test]
    fn diagonal_chain_uses_the_right_adjacency() {
        // c1-b2-a3 are connected (the short diagonal); a1-b2-c3 are not.
        let b = Board::from_moves(3, false, &["c1", "a1", "b2", "b1", "a3"]).unwrap();
        assert_eq!(b.winner(), Some(Player::Black));
        let b = Board::from_moves(3, false, &["a1", "c1", "b2", "a2", "c3"]).unwrap();
        assert_eq!(b.winner(), None);
    }

    #[test]
    fn illegal_moves_are_errors_and_leave_the_board_alone() {
        let mut b = Board::from_moves(3, false, &["b2"]).unwrap();
        assert!(b.play(4).is_err());
        assert!(
            b.play(b.swap_move()).is_err(),
            "no swap without the swap rule"
        );
        assert_eq!(b.stones(), 1);
        assert_eq!(b.to_move(), Player::White);
    }

    #[test]
    fn swap_mirrors_the_first_stone_and_gives_black_the_move() {
        let mut b = Board::from_moves(4, true, &["c1"]).unwrap();
        assert!(b.legal_moves().contains(&b.swap_move()));
        b.play(b.swap_move()).unwrap();
        // c1 = (row 0, col 2) -> White at (row 2, col 0) = a3.
        assert_eq!(b.cell(b.parse_move("a3").unwrap()), Some(Player::White));
        assert_eq!(b.cell(b.parse_move("c1").unwrap()), None);
        assert_eq!(b.to_move(), Player::Black);
        assert!(!b.legal_moves().contains(&b.swap_move()));
        // Swap is only legal on the second move.
        let b = Board::from_moves(4, true, &["c1", "a1"]).unwrap();
        assert!(!b.is_legal(b.swap_move()));
    }

    #[test]
    fn a_full_board_always_has_exactly_one_winner() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for n in 3..=9 {
            for _ in 0..50 {
                // Fill the board at random ignoring wins: every colouring of a full board has
                // exactly one connected colour (the Hex theorem).
                let mut cells: Vec<usize> = (0..n * n).collect();
                cells.shuffle(&mut rng);
                let mut b = Board::new(n, false).unwrap();
                let mut full = Board::new(n, false).unwrap();
                for (k, &i) in cells.iter().enumerate() {
                    let p = if k % 2 == 0 {
                        Player::Black
                    } else {
                        Player::White
                    };
                    full.place(i, p);
                    if !b.is_over() {
                        b.play(i).unwrap();
                    }
                }
                assert!(b.is_over(), "a game played to the end has a winner");
                // The full colouring: exactly one colour connects its edges.
                let w = full.winner().unwrap();
                let nn = n * n;
                let mut uf = full.uf.clone();
                let black_conn = uf.find(nn) == uf.find(nn + 1);
                let white_conn = uf.find(nn + 2) == uf.find(nn + 3);
                assert!(
                    black_conn ^ white_conn,
                    "exactly one colour connects (n={n})"
                );
                assert_eq!(
                    w,
                    if black_conn {
                        Player::Black
                    } else {
                        Player::White
                    }
                );
            }
        }
    }
}
