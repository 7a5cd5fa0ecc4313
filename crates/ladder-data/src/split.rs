//! The train/validation split of a document stream, decided on the fly.
//!
//! The validation split is the last `val_fraction` of the text bytes, its start moved back to the
//! start of a line (or, in a document's first line, forward past its end) so the split is
//! deterministic and never cuts a character. Knowing the total size (a first pass counts it),
//! [`Splitter`] routes every piece to its split as it streams by: the document the cut falls in
//! becomes two documents, its head ending the training split and its tail opening the
//! validation one. Pieces start at a document start or right after a `\n`, so the line start
//! before the cut is always inside the piece that holds the cut (or is that piece's start).

use std::collections::VecDeque;

use crate::docs::{Piece, PieceSource};
use crate::error::{Error, Result};
use crate::meta::Split;

/// Where the validation split starts before moving to a line start: the byte position in the
/// concatenation of all documents, for `total` bytes of text.
pub fn raw_cut(total: u64, val_fraction: f64) -> u64 {
    let val_target = ((total as f64 * val_fraction).ceil() as u64).clamp(1, total.max(1));
    total.saturating_sub(val_target)
}

/// Both splits must hold text: [`Error::TooLittleText`] otherwise.
pub fn check_both_splits(train_bytes: u64, val_bytes: u64, val_fraction: f64) -> Result<()> {
    if train_bytes == 0 || val_bytes == 0 {
        return Err(Error::TooLittleText {
            bytes: train_bytes + val_bytes,
            val_fraction,
        });
    }
    Ok(())
}

/// Routes the pieces of a stream of non-empty documents (a [`crate::input::DocStream`]) to the
/// training or validation split.
pub struct Splitter<S> {
    stream: S,
    /// [`raw_cut`] of the stream's text.
    cut: u64,
    /// Bytes of text streamed so far.
    pos: u64,
    /// Where the current document started.
    doc_start: u64,
    /// The cut has been placed: every later piece is validation text.
    in_val: bool,
    /// The current document has validation text (an `End` is due to the validation split).
    doc_has_val: bool,
    queue: VecDeque<(Split, Piece)>,
}

impl<S: PieceSource> Splitter<S> {
    /// Splits `stream` at `cut` ([`raw_cut`] of its total size).
    pub fn new(stream: S, cut: u64) -> Self {
        Splitter {
            stream,
            cut,
            pos: 0,
            doc_start: 0,
            in_val: false,
            doc_has_val: false,
            queue: VecDeque::new(),
        }
    }

    /// The next piece and its split, or `None` at the end of the input.
    pub fn next_routed(&mut self) -> Result<Option<(Split, Piece)>> {
        loop {
            if let Some(r) = self.queue.pop_front() {
                return Ok(Some(r));
            }
            match self.stream.next_piece()? {
                None => return Ok(None),
                Some(piece) => self.route(piece),
            }
        }
    }

    fn route(&mut self, piece: Piece) {
        match piece {
            Piece::End => {
                if !self.in_val {
                    self.queue.push_back((Split::Train, Piece::End));
                } else if std::mem::take(&mut self.doc_has_val) {
                    self.queue.push_back((Split::Val, Piece::End));
                }
                self.doc_start = self.pos;
            }
            Piece::Text(s) => {
                let start = self.pos;
                self.pos += s.len() as u64;
                if self.in_val {
                    self.doc_has_val = true;
                    self.queue.push_back((Split::Val, Piece::Text(s)));
                } else if self.cut >= self.pos {
                    self.queue.push_back((Split::Train, Piece::Text(s)));
                } else {
                    self.place_cut(s, start);
                }
            }
        }
    }

    /// Splits the piece `s` (starting at byte `start`) that holds the cut.
    fn place_cut(&mut self, s: String, start: u64) {
        let in_doc = self.cut - self.doc_start;
        let o = (self.cut - start) as usize;
        let c = if in_doc == 0 {
            0
        } else {
            let f = floor_char_boundary(&s, o);
            if let Some(nl) = s[..f].rfind('\n') {
                nl + 1
            } else if start > self.doc_start {
                // The piece starts right after a '\n': that is the line start.
                0
            } else if let Some(nl) = s[f..].find('\n') {
                f + nl + 1
            } else {
                f
            }
        };
        if c > 0 {
            self.queue
                .push_back((Split::Train, Piece::Text(s[..c].to_string())));
        }
        if start + c as u64 > self.doc_start {
            self.queue.push_back((Split::Train, Piece::End));
        }
        if c < s.len() {
            self.doc_has_val = true;
            self.queue
                .push_back((Split::Val, Piece::Text(s[c..].to_string())));
        }
        self.in_val = true;
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Documents given whole, as pieces.
    struct Docs(VecDeque<Piece>);

    impl PieceSource for Docs {
        fn next_piece(&mut self) -> Result<Option<Piece>> {
            Ok(self.0.pop_front())
        }
    }

    /// The documents of each split, as `prepare` would cut them.
    fn split_docs(docs: &[&str], val_fraction: f64) -> Result<(Vec<String>, Vec<String>)> {
        let mut pieces = VecDeque::new();
        for d in docs {
            // Several pieces per document, each starting after a '\n' as real pieces do.
            for line in d.split_inclusive('\n') {
                pieces.push_back(Piece::Text(line.to_string()));
            }
            pieces.push_back(Piece::End);
        }
        let total = docs.iter().map(|d| d.len() as u64).sum();
        let mut sp = Splitter::new(Docs(pieces), raw_cut(total, val_fraction));
        let mut out = (Vec::new(), Vec::new());
        let mut cur = (String::new(), String::new());
        while let Some((split, p)) = sp.next_routed()? {
            let (docs, cur) = match split {
                Split::Train => (&mut out.0, &mut cur.0),
                Split::Val => (&mut out.1, &mut cur.1),
            };
            match p {
                Piece::Text(t) => cur.push_str(&t),
                Piece::End => docs.push(std::mem::take(cur)),
            }
        }
        let bytes = |d: &Vec<String>| d.iter().map(|s| s.len() as u64).sum::<u64>();
        check_both_splits(bytes(&out.0), bytes(&out.1), val_fraction)?;
        Ok(out)
    }

    #[test]
    fn split_docs_cuts_at_a_line_start_and_keeps_every_byte() -> Result<()> {
        let docs = ["aaa\nbbb\n", "ccc\nddd\neee\n"];
        let (train, val) = split_docs(&docs, 0.2)?;
        assert_eq!(train, vec!["aaa\nbbb\n", "ccc\nddd\n"]);
        assert_eq!(val, vec!["eee\n"]);
        assert_eq!(train.concat() + &val.concat(), docs.concat());
        let one_line = "ünï".repeat(10);
        let (t, v) = split_docs(&[one_line.as_str()], 0.5)?;
        assert_eq!(t.concat() + &v.concat(), one_line);
        assert!(matches!(
            split_docs(&["x"], 0.5),
            Err(Error::TooLittleText { .. })
        ));
        Ok(())
    }

    #[test]
    fn the_cut_moves_to_a_line_start_across_pieces_and_documents() -> Result<()> {
        // The cut falls mid-line in a later piece of a document: back to that line's start.
        let (t, v) = split_docs(&["ab\ncd\nefgh\nij\n"], 0.3)?;
        assert_eq!((t, v), (vec!["ab\ncd\n".into()], vec!["efgh\nij\n".into()]));
        // In a document's first line: forward past that line's end.
        let (t, v) = split_docs(&["x\n", "abcdefgh\nij"], 0.5)?;
        assert_eq!(t, vec!["x\n", "abcdefgh\n"]);
        assert_eq!(v, vec!["ij"]);
        // Exactly at a document's start: that document is all validation.
        let (t, v) = split_docs(&["aaaa", "bbbb"], 0.5)?;
        assert_eq!((t, v), (vec!["aaaa".into()], vec!["bbbb".into()]));
        // The last document's only line: forward to its end leaves no validation text.
        assert!(matches!(
            split_docs(&["aaaa\n", "bbbbbbbb\n"], 0.2),
            Err(Error::TooLittleText { .. })
        ));
        Ok(())
    }
}
