//! Token shards (`train.bin`, `val.bin`): a fixed 64-byte header, then the token ids as
//! little-endian `u16` (or `u32` when the vocabulary exceeds 65,536), read through `memmap2`.
//!
//! Header (all integers little-endian):
//!
//! | bytes  | field        | value                                            |
//! |--------|--------------|--------------------------------------------------|
//! | 0..8   | magic        | `b"LADDERTK"`                                    |
//! | 8..12  | version      | `1`                                              |
//! | 12..16 | width        | bytes per token, `2` or `4`                      |
//! | 16..20 | vocab_size   | every token is `< vocab_size`                    |
//! | 20..24 | reserved     | `0`                                              |
//! | 24..32 | count        | number of tokens                                 |
//! | 32..40 | checksum     | [`checksum`] of the payload                      |
//! | 40..64 | reserved     | `0`                                              |
//!
//! The file is exactly `64 + count * width` bytes. [`TokenShard::open`] checks every field, the
//! length, the checksum and that every token is below `vocab_size`; the checks are one parallel
//! pass over the payload (tens of milliseconds for 100 MB), cheap next to any training run.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;

/// First 8 bytes of every shard.
pub const MAGIC: &[u8; 8] = b"LADDERTK";
/// The shard format version this build writes and reads.
pub const VERSION: u32 = 1;
/// Header length in bytes; the payload starts here (a multiple of 4, so tokens stay aligned).
pub const HEADER_LEN: usize = 64;

/// Bytes per token for a vocabulary: 2 up to 65,536 ids, else 4.
pub fn token_width(vocab_size: usize) -> u32 {
    if vocab_size <= 1 << 16 {
        2
    } else {
        4
    }
}

/// Checksum of a payload: with `w_i` the i-th little-endian `u64` word of the payload (the last
/// one zero-padded), `sum_i mix(w_i ^ (i * 0x9E3779B97F4A7C15))` with wrapping addition, where
/// `mix` is the SplitMix64 finaliser. Position-keyed, so reordering is detected; a sum, so it
/// parallelises with a result independent of the partition.
pub fn checksum(payload: &[u8]) -> u64 {
    const CHUNK_WORDS: usize = 1 << 16;
    payload
        .par_chunks(CHUNK_WORDS * 8)
        .enumerate()
        .map(|(c, chunk)| {
            let base = (c * CHUNK_WORDS) as u64;
            let mut acc = 0u64;
            let mut words = chunk.chunks_exact(8);
            let mut i = base;
            for w in &mut words {
                let mut b = [0u8; 8];
                b.copy_from_slice(w);
                acc = acc.wrapping_add(word_hash(u64::from_le_bytes(b), i));
                i += 1;
            }
            let rem = words.remainder();
            if !rem.is_empty() {
                let mut b = [0u8; 8];
                b[..rem.len()].copy_from_slice(rem);
                acc = acc.wrapping_add(word_hash(u64::from_le_bytes(b), i));
            }
            acc
        })
        .reduce(|| 0, u64::wrapping_add)
}

fn word_hash(w: u64, i: u64) -> u64 {
    crate::rng::mix64(w ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Writes `tokens` as a shard at `path` (atomically: temp file, fsync, rename).
/// Every token must be `< vocab_size` (checked: a bad id is a bug in the caller, reported as
/// [`Error::TokenOutOfRange`] rather than written).
pub fn write_shard(path: &Path, tokens: &[u32], vocab_size: usize) -> Result<()> {
    let width = token_width(vocab_size);
    let vocab = u32::try_from(vocab_size).map_err(|_| Error::BadHeader {
        path: path.to_path_buf(),
        what: format!("vocab size {vocab_size} does not fit in u32"),
    })?;
    if let Some((index, &token)) = tokens.iter().enumerate().find(|(_, &t)| t >= vocab) {
        return Err(Error::TokenOutOfRange {
            path: path.to_path_buf(),
            index: index as u64,
            token,
            vocab,
        });
    }
    let mut buf = vec![0u8; HEADER_LEN + tokens.len() * width as usize];
    let (header, payload) = buf.split_at_mut(HEADER_LEN);
    if width == 2 {
        payload
            .par_chunks_mut(2 * 4096)
            .zip(tokens.par_chunks(4096))
            .for_each(|(out, toks)| {
                for (o, &t) in out.chunks_exact_mut(2).zip(toks) {
                    o.copy_from_slice(&(t as u16).to_le_bytes());
                }
            });
    } else {
        payload
            .par_chunks_mut(4 * 4096)
            .zip(tokens.par_chunks(4096))
            .for_each(|(out, toks)| {
                for (o, &t) in out.chunks_exact_mut(4).zip(toks) {
                    o.copy_from_slice(&t.to_le_bytes());
                }
            });
    }
    let sum = checksum(payload);
    header.copy_from_slice(&header_bytes(width, vocab, tokens.len() as u64, sum));
    write_atomic(path, &buf)
}

/// The 64-byte header of a shard.
fn header_bytes(width: u32, vocab: u32, count: u64, sum: u64) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[0..8].copy_from_slice(MAGIC);
    header[8..12].copy_from_slice(&VERSION.to_le_bytes());
    header[12..16].copy_from_slice(&width.to_le_bytes());
    header[16..20].copy_from_slice(&vocab.to_le_bytes());
    header[24..32].copy_from_slice(&count.to_le_bytes());
    header[32..40].copy_from_slice(&sum.to_le_bytes());
    header
}

/// Writes a shard token by token, for corpora whose tokens are not all held in memory: the
/// payload is streamed through a buffer and its [`checksum`] kept as it goes; [`finish`]
/// writes the header and fsyncs. The file is written in place, so it belongs in a staging
/// directory (`ladder data prepare` writes into one); the result is byte-identical to
/// [`write_shard`] with the same tokens.
///
/// [`finish`]: ShardWriter::finish
pub struct ShardWriter {
    path: PathBuf,
    out: std::io::BufWriter<File>,
    width: u32,
    vocab: u32,
    count: u64,
    sum: u64,
    /// Index of the next complete 8-byte payload word.
    word: u64,
    /// Payload bytes not yet part of a complete word.
    partial: Vec<u8>,
    bytes: Vec<u8>,
}

impl ShardWriter {
    /// Creates `path` for tokens `< vocab_size`.
    pub fn create(path: &Path, vocab_size: usize) -> Result<Self> {
        let vocab = u32::try_from(vocab_size).map_err(|_| Error::BadHeader {
            path: path.to_path_buf(),
            what: format!("vocab size {vocab_size} does not fit in u32"),
        })?;
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        std::io::Write::write_all(&mut out, &[0u8; HEADER_LEN]).map_err(|e| Error::io(path, e))?;
        Ok(ShardWriter {
            path: path.to_path_buf(),
            out,
            width: token_width(vocab_size),
            vocab,
            count: 0,
            sum: 0,
            word: 0,
            partial: Vec::with_capacity(8),
            bytes: Vec::new(),
        })
    }

    /// Tokens written so far.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// True before the first token.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends `tokens` (each must be `< vocab_size`, as in [`write_shard`]).
    pub fn push(&mut self, tokens: &[u32]) -> Result<()> {
        if let Some((i, &token)) = tokens.iter().enumerate().find(|(_, &t)| t >= self.vocab) {
            return Err(Error::TokenOutOfRange {
                path: self.path.clone(),
                index: self.count + i as u64,
                token,
                vocab: self.vocab,
            });
        }
        self.bytes.clear();
        for &t in tokens {
            if self.width == 2 {
                self.bytes.extend_from_slice(&(t as u16).to_le_bytes());
            } else {
                self.bytes.extend_from_slice(&t.to_le_bytes());
            }
        }
        std::io::Write::write_all(&mut self.out, &self.bytes)
            .map_err(|e| Error::io(&self.path, e))?;
        self.count += tokens.len() as u64;
        // Checksum: complete the pending word, then whole words, then keep the rest.
        let mut rest = &self.bytes[..];
        if !self.partial.is_empty() {
            let take = (8 - self.partial.len()).min(rest.len());
            self.partial.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.partial.len() == 8 {
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.partial);
                self.sum = self
                    .sum
                    .wrapping_add(word_hash(u64::from_le_bytes(b), self.word));
                self.word += 1;
                self.partial.clear();
            }
        }
        let mut words = rest.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            self.sum = self
                .sum
                .wrapping_add(word_hash(u64::from_le_bytes(b), self.word));
            self.word += 1;
        }
        self.partial.extend_from_slice(words.remainder());
        Ok(())
    }

    /// Writes the header, flushes and fsyncs the file; returns the token count.
    pub fn finish(mut self) -> Result<u64> {
        if !self.partial.is_empty() {
            let mut b = [0u8; 8];
            b[..self.partial.len()].copy_from_slice(&self.partial);
            self.sum = self
                .sum
                .wrapping_add(word_hash(u64::from_le_bytes(b), self.word));
        }
        let header = header_bytes(self.width, self.vocab, self.count, self.sum);
        let path = self.path;
        let mut file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        use std::io::{Seek, Write};
        file.seek(std::io::SeekFrom::Start(0))
            .and_then(|_| file.write_all(&header))
            .and_then(|_| file.sync_all())
            .map_err(|e| Error::io(&path, e))?;
        Ok(self.count)
    }
}

/// A memory-mapped, fully validated token shard.
pub struct TokenShard {
    path: PathBuf,
    map: Mmap,
    width: u32,
    len: usize,
    vocab_size: u32,
}

impl std::fmt::Debug for TokenShard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenShard")
            .field("path", &self.path)
            .field("len", &self.len)
            .field("width", &self.width)
            .field("vocab_size", &self.vocab_size)
            .finish()
    }
}

impl TokenShard {
    /// Maps `path` and checks the header strictly (magic, version, width, reserved bytes, length,
    /// checksum, every token `< vocab_size`).
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let bad = |what: String| Error::BadHeader {
            path: path.to_path_buf(),
            what,
        };
        if file_len < HEADER_LEN as u64 {
            let mut head = vec![0u8; file_len as usize];
            std::io::Read::read_exact(&mut &file, &mut head).map_err(|e| Error::io(path, e))?;
            if head.len() < 8 || &head[..8] != MAGIC {
                return Err(Error::BadMagic {
                    path: path.to_path_buf(),
                    found: show_magic(&head),
                    expected: "LADDERTK",
                });
            }
            return Err(bad(format!(
                "file is {file_len} bytes, shorter than the {HEADER_LEN}-byte header"
            )));
        }
        // SAFETY: the map is read-only and private to this process; ladder never writes a shard in
        // place (writers create a new file and rename it), so the bytes cannot change under us
        // unless another program truncates the file, which memmap2 documents as the caller's risk.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let h = &map[..HEADER_LEN];
        if &h[0..8] != MAGIC {
            return Err(Error::BadMagic {
                path: path.to_path_buf(),
                found: show_magic(&h[0..8]),
                expected: "LADDERTK",
            });
        }
        let u32_at = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        let u64_at = |o: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[o..o + 8]);
            u64::from_le_bytes(b)
        };
        let version = u32_at(8);
        if version != VERSION {
            return Err(Error::BadVersion {
                path: path.to_path_buf(),
                found: version,
                supported: VERSION,
            });
        }
        let width = u32_at(12);
        if width != 2 && width != 4 {
            return Err(bad(format!("token width {width}, expected 2 or 4")));
        }
        let vocab_size = u32_at(16);
        if vocab_size == 0 || width != token_width(vocab_size as usize) {
            return Err(bad(format!(
                "token width {width} does not match vocab size {vocab_size}"
            )));
        }
        if u32_at(20) != 0 || h[40..64].iter().any(|&b| b != 0) {
            return Err(bad("reserved bytes are not zero".to_string()));
        }
        let count = u64_at(24);
        let expected = count
            .checked_mul(width as u64)
            .and_then(|n| n.checked_add(HEADER_LEN as u64));
        if expected != Some(file_len) {
            return Err(Error::BadLength {
                path: path.to_path_buf(),
                expected: expected.unwrap_or(u64::MAX),
                actual: file_len,
            });
        }
        let stored = u64_at(32);
        let payload = &map[HEADER_LEN..];
        let actual = checksum(payload);
        if actual != stored {
            return Err(Error::BadChecksum {
                path: path.to_path_buf(),
                expected: stored,
                actual,
            });
        }
        let len = usize::try_from(count).map_err(|_| bad(format!("count {count} too large")))?;
        let shard = TokenShard {
            path: path.to_path_buf(),
            map,
            width,
            len,
            vocab_size,
        };
        shard.check_range()?;
        Ok(shard)
    }

    /// Finds the first token `>= vocab_size`, if any.
    fn check_range(&self) -> Result<()> {
        const CHUNK: usize = 1 << 16;
        let n_chunks = self.len.div_ceil(CHUNK);
        let first_bad = (0..n_chunks).into_par_iter().find_map_first(|c| {
            let start = c * CHUNK;
            let end = (start + CHUNK).min(self.len);
            (start..end)
                .find(|&i| self.get(i) >= self.vocab_size)
                .map(|i| (i, self.get(i)))
        });
        match first_bad {
            Some((index, token)) => Err(Error::TokenOutOfRange {
                path: self.path.clone(),
                index: index as u64,
                token,
                vocab: self.vocab_size,
            }),
            None => Ok(()),
        }
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the shard holds no tokens.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Vocabulary size from the header: every token is below it.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size as usize
    }

    /// Bytes per token on disk (2 or 4).
    pub fn width(&self) -> u32 {
        self.width
    }

    /// The file this shard was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Token `i`. Panics if `i >= len()`, like slice indexing (indices come from the sampler,
    /// never from user input).
    #[inline]
    pub fn get(&self, i: usize) -> u32 {
        assert!(i < self.len, "token index {i} out of range {}", self.len);
        let p = &self.map[HEADER_LEN..];
        if self.width == 2 {
            u16::from_le_bytes([p[2 * i], p[2 * i + 1]]) as u32
        } else {
            u32::from_le_bytes([p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]])
        }
    }

    /// Overwrites `out` with tokens `start .. start + out.len()`. Panics if that range is not
    /// inside the shard.
    pub fn copy_to(&self, start: usize, out: &mut [u32]) {
        let end = start
            .checked_add(out.len())
            .filter(|&e| e <= self.len)
            .unwrap_or_else(|| {
                panic!(
                    "token range {start}..{}+{} out of range {}",
                    start,
                    out.len(),
                    self.len
                )
            });
        let p = &self.map[HEADER_LEN..];
        if self.width == 2 {
            for (o, b) in out.iter_mut().zip(p[2 * start..2 * end].chunks_exact(2)) {
                *o = u16::from_le_bytes([b[0], b[1]]) as u32;
            }
        } else {
            for (o, b) in out.iter_mut().zip(p[4 * start..4 * end].chunks_exact(4)) {
                *o = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
    }

    /// All tokens, copied out (for small shards and tests).
    pub fn to_vec(&self) -> Vec<u32> {
        let mut v = vec![0u32; self.len];
        self.copy_to(0, &mut v);
        v
    }
}

fn show_magic(b: &[u8]) -> String {
    b.iter()
        .take(8)
        .map(|&c| {
            if c.is_ascii_graphic() {
                (c as char).to_string()
            } else {
                format!("\\x{c:02x}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    #[test]
    fn shard_roundtrips_u16_and_u32() -> Result<()> {
        let t = tmp();
        for (vocab, toks) in [
            (1000usize, vec![0u32, 1, 999, 5, 7]),
            (70_000, vec![0, 69_999, 65_536, 3]),
            (10, vec![]),
        ] {
            let p = t.path().join(format!("s{vocab}.bin"));
            write_shard(&p, &toks, vocab)?;
            let s = TokenShard::open(&p)?;
            assert_eq!(s.len(), toks.len());
            assert_eq!(s.width(), token_width(vocab));
            assert_eq!(s.vocab_size(), vocab);
            assert_eq!(s.to_vec(), toks);
            for (i, &t) in toks.iter().enumerate() {
                assert_eq!(s.get(i), t);
            }
        }
        Ok(())
    }

    #[test]
    fn shard_reader_rejects_bad_magic_version_length_checksum() -> Result<()> {
        let t = tmp();
        let p = t.path().join("a.bin");
        let toks: Vec<u32> = (0..1000).map(|i| i % 300).collect();
        write_shard(&p, &toks, 300)?;
        let good = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        let corrupt = |f: &dyn Fn(&mut Vec<u8>)| -> Error {
            let mut b = good.clone();
            f(&mut b);
            std::fs::write(&p, &b).expect("write");
            TokenShard::open(&p).expect_err("corruption must be detected")
        };
        assert!(matches!(corrupt(&|b| b[0] = b'X'), Error::BadMagic { .. }));
        assert!(matches!(corrupt(&|b| b[8] = 9), Error::BadVersion { .. }));
        assert!(matches!(corrupt(&|b| b[12] = 3), Error::BadHeader { .. }));
        assert!(matches!(corrupt(&|b| b[50] = 1), Error::BadHeader { .. }));
        assert!(matches!(
            corrupt(&|b| b.truncate(b.len() - 2)),
            Error::BadLength { .. }
        ));
        assert!(matches!(
            corrupt(&|b| b[HEADER_LEN + 10] ^= 1),
            Error::BadChecksum { .. }
        ));
        // Swapping two tokens keeps their sum but not the position-keyed checksum.
        assert!(matches!(
            corrupt(&|b| b.swap(HEADER_LEN, HEADER_LEN + 8)),
            Error::BadChecksum { .. }
        ));
        assert!(matches!(
            corrupt(&|b| b.truncate(10)),
            Error::BadHeader { .. }
        ));
        assert!(matches!(
            corrupt(&|b| b.truncate(3)),
            Error::BadMagic { .. }
        ));
        let msg = corrupt(&|b| b[0] = b'X').to_string();
        assert!(msg.contains("not a ladder token shard"), "{msg}");
        assert!(msg.contains("ladder data prepare"), "{msg}");
        Ok(())
    }

    #[test]
    fn shard_reader_rejects_token_out_of_range() -> Result<()> {
        let t = tmp();
        let p = t.path().join("a.bin");
        write_shard(&p, &[1, 2, 3], 300)?;
        // Rewrite token 1 as 400 with a matching checksum: only the range check can catch it.
        let mut b = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        b[HEADER_LEN + 2..HEADER_LEN + 4].copy_from_slice(&400u16.to_le_bytes());
        let sum = checksum(&b[HEADER_LEN..]);
        b[32..40].copy_from_slice(&sum.to_le_bytes());
        std::fs::write(&p, &b).map_err(|e| Error::io(&p, e))?;
        match TokenShard::open(&p) {
            Err(Error::TokenOutOfRange { index, token, .. }) => {
                assert_eq!((index, token), (1, 400));
            }
            other => panic!("expected TokenOutOfRange, got {other:?}"),
        }
        assert!(matches!(
            write_shard(&p, &[300], 300),
            Err(Error::TokenOutOfRange { .. })
        ));
        Ok(())
    }

    #[test]
    fn shard_writer_matches_write_shard_for_any_batching() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let tokens: Vec<u32> = (0..10_007u32).map(|i| (i * 7919) % 70_000).collect();
        for vocab in [70_000usize, 65_536] {
            let toks: Vec<u32> = tokens.iter().map(|&t| t % vocab as u32).collect();
            let whole = dir.path().join("whole.bin");
            write_shard(&whole, &toks, vocab)?;
            for batch in [1usize, 3, 5, 1000] {
                let streamed = dir.path().join(format!("s{batch}.bin"));
                let mut w = ShardWriter::create(&streamed, vocab)?;
                for b in toks.chunks(batch) {
                    w.push(b)?;
                }
                assert_eq!(w.finish()?, toks.len() as u64);
                let read = |p: &Path| std::fs::read(p).map_err(|e| Error::io(p, e));
                assert_eq!(
                    read(&whole)?,
                    read(&streamed)?,
                    "vocab {vocab}, batch {batch}"
                );
                TokenShard::open(&streamed)?;
            }
        }
        let mut w = ShardWriter::create(&dir.path().join("bad.bin"), 10)?;
        assert!(matches!(
            w.push(&[1, 10]),
            Err(Error::TokenOutOfRange { index: 1, .. })
        ));
        Ok(())
    }

    #[test]
    fn checksum_is_independent_of_chunking() {
        let payload: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 + 3) as u8).collect();
        let serial = {
            let mut acc = 0u64;
            for (i, w) in payload.chunks(8).enumerate() {
                let mut b = [0u8; 8];
                b[..w.len()].copy_from_slice(w);
                acc = acc.wrapping_add(word_hash(u64::from_le_bytes(b), i as u64));
            }
            acc
        };
        assert_eq!(checksum(&payload), serial);
    }
}
