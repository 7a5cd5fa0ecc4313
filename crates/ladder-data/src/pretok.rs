//! A fast, exact equivalent of the GPT-2 pre-tokenizer that Hugging Face's byte-level
//! pre-tokenizer applies (`ByteLevel { add_prefix_space: false, use_regex: true }`).
//!
//! GPT-2 splits text with the pattern
//! `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
//! `tokenizers` (built here without Oniguruma) evaluates it with the backtracking `fancy-regex`,
//! which runs at about 1 MB/s. The look-ahead is the only part the linear-time `regex` crate lacks,
//! and its effect is simple: a whitespace run followed by a non-space character gives up its last
//! character to the next piece (`"  x"` splits as `" "`, `" x"`), unless the run is one character
//! long. So we match `...|\s+` with `regex` and shorten such runs by hand; the tests check the
//! pieces and the final ids against `tokenizers` itself on adversarial Unicode text.
//!
//! Each piece is then mapped byte by byte to GPT-2's printable stand-ins (`bytes_to_unicode` in
//! the GPT-2 encoder: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100..),
//! which is what the byte-level BPE model consumes.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use tokenizers::Model;

/// The GPT-2 pattern without its look-ahead alternative (see the module docs).
static PIECE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+")
        .unwrap_or_else(|e| panic!("the constant GPT-2 pattern compiles: {e}"))
});

/// Byte -> stand-in character of the byte-level alphabet.
static BYTE_CHAR: LazyLock<[char; 256]> = LazyLock::new(|| {
    let keeps = |b: u32| (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || b >= 0xAE;
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for b in 0..256u32 {
        let c = if keeps(b) {
            b
        } else {
            next += 1;
            next - 1
        };
        table[b as usize] = char::from_u32(c).unwrap_or('\0');
    }
    table
});

/// Splits `text` into GPT-2 pre-tokens (their concatenation is `text`).
pub fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        let Some(m) = PIECE.find_at(text, pos) else {
            out.push(&text[pos..]);
            break;
        };
        if m.start() > pos {
            // Unreachable (every character starts a match) but kept isolated as tokenizers does.
            out.push(&text[pos..m.start()]);
        }
        let mut end = m.end();
        let piece = m.as_str();
        if end < text.len() && piece.chars().all(char::is_whitespace) {
            // `\s+(?!\S)`: the run is followed by a non-space, so it keeps all but its last char,
            // unless that would leave it empty (then the plain `\s+` alternative matches it whole).
            if let Some(last) = piece.chars().next_back() {
                if piece.len() > last.len_utf8() {
                    end -= last.len_utf8();
                }
            }
        }
        out.push(&text[m.start()..end]);
        pos = end;
    }
    out
}

/// `piece` in the byte-level alphabet.
pub fn byte_level(piece: &str) -> String {
    piece.bytes().map(|b| BYTE_CHAR[b as usize]).collect()
}

/// Encodes `text` with a byte-level BPE `model`, caching the ids of repeated pieces. Equal to
/// `Tokenizer::encode(text, false)` for a GPT-2-configured tokenizer and text without special
/// tokens.
pub fn encode<M: Model>(model: &M, text: &str) -> tokenizers::Result<Vec<u32>> {
    let mut cache: HashMap<&str, Vec<u32>> = HashMap::new();
    let mut ids = Vec::with_capacity(text.len() / 3);
    for p in pieces(text) {
        if let Some(v) = cache.get(p) {
            ids.extend_from_slice(v);
            continue;
        }
        let v: Vec<u32> = model
            .tokenize(&byte_level(p))?
            .iter()
            .map(|t| t.id)
            .collect();
        ids.extend_from_slice(&v);
        cache.insert(p, v);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};

    /// What `tokenizers` itself produces (fancy-regex with the look-ahead).
    fn reference(text: &str) -> Vec<String> {
        let mut pre = PreTokenizedString::from(text);
        ByteLevel::new(false, true, true)
            .pre_tokenize(&mut pre)
            .expect("pre-tokenize");
        pre.get_splits(OffsetReferential::Original, OffsetType::Byte)
            .into_iter()
            .map(|(s, _, _)| s.to_string())
            .collect()
    }

    /// Text drawn from characters chosen to hit every branch: contractions, letters of several
    /// scripts, combining marks, digits of several kinds, punctuation, every kind of whitespace.
    fn adversarial(n: usize, seed: u64) -> String {
        const ATOMS: &[&str] = &[
            "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'x", "''", "a", "Z", "é", "ß", "Ω",
            "ж", "中", "ア", "ب", "e\u{301}", "\u{301}", "0", "9", "٣", "½", "Ⅻ", "²", ".", ",",
            "!", "?", "-", "—", "“", "€", "🦀", "👍🏽", "\u{200d}", " ", " ", " ", "  ", "\t", "\n",
            "\r\n", "\u{a0}", "\u{3000}", "\u{2028}", "\u{85}", "\u{b}", "\u{c}", "_", "#",
            "\u{feff}", "\u{1}",
        ];
        let mut rng = crate::rng::Rng::new(seed);
        (0..n)
            .map(|_| ATOMS[rng.below(ATOMS.len() as u64) as usize])
            .collect()
    }

    #[test]
    fn pieces_match_tokenizers_pre_tokenizer() {
        let mut texts: Vec<String> = vec![
            String::new(),
            " ".into(),
            "  ".into(),
            "a  b".into(),
            "a \n b".into(),
            "x\n\n  y   ".into(),
            "I'm here, they're 'quoted' isn't it?".into(),
            "  leading and trailing  ".into(),
            "tab\tsep\u{a0}nbsp".into(),
        ];
        for seed in 0..300 {
            texts.push(adversarial(1 + (seed as usize % 60), seed));
        }
        for t in &texts {
            let got: Vec<String> = pieces(t).into_iter().map(byte_level).collect();
            assert_eq!(got, reference(t), "text {t:?}");
        }
    }

    #[test]
    fn byte_level_alphabet_is_gpt2s() {
        let all: std::collections::HashSet<char> = BYTE_CHAR.iter().copied().collect();
        assert_eq!(all.len(), 256);
        assert_eq!(all, ByteLevel::alphabet().into_iter().collect());
        assert_eq!(BYTE_CHAR[b' ' as usize], 'Ġ');
        assert_eq!(BYTE_CHAR[b'\n' as usize], 'Ċ');
        assert_eq!(BYTE_CHAR[b'A' as usize], 'A');
    }
}
