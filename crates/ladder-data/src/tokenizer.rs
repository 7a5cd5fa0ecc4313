//! Tokenizers: training a GPT-2-style byte-level BPE with Hugging Face `tokenizers`, the word-level
//! tokenizer of the synthetic source, and loading either from a data directory.
//!
//! The BPE tokenizer is configured like Hugging Face's `gpt2` `tokenizer.json` (byte-level
//! pre-tokenizer with the GPT-2 regex and no prefix space, byte-level decoder and post-processor,
//! no normaliser, no unknown token), so `tokenizers.Tokenizer.from_file` and
//! `GPT2TokenizerFast(tokenizer_file=...)` load it as-is, and every string round-trips:
//! `decode(encode(s)) == s`.

use std::path::Path;
use std::str::FromStr;

use tokenizers::models::bpe::{BpeTrainer, BpeTrainerBuilder, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper,
    Tokenizer, TokenizerImpl, Trainer,
};

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::meta::TOKENIZER_FILE;
use crate::pretok;

/// The document separator, GPT-2's special token.
pub const EOT: &str = "<|endoftext|>";

/// Byte tokens every byte-level BPE vocabulary starts with.
pub const BYTE_ALPHABET: usize = 256;

/// Smallest `--vocab-size` for byte-level BPE: the 256 byte tokens plus the special tokens.
pub const MIN_BPE_VOCAB: usize = BYTE_ALPHABET + 1;

/// Loads `dir/tokenizer.json`.
pub fn load_tokenizer(dir: &Path) -> Result<Tokenizer> {
    let path = dir.join(TOKENIZER_FILE);
    if !path.exists() {
        return Err(Error::io(
            &path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no tokenizer.json"),
        ));
    }
    Tokenizer::from_file(&path).map_err(|cause| Error::Tokenizer { path, cause })
}

/// Writes `tok` as `dir/tokenizer.json` (pretty JSON, atomically).
pub fn save_tokenizer(tok: &Tokenizer, dir: &Path) -> Result<()> {
    let path = dir.join(TOKENIZER_FILE);
    let text = tok.to_string(true).map_err(|cause| Error::Tokenizer {
        path: path.clone(),
        cause,
    })?;
    write_atomic(&path, text.as_bytes())
}

/// Trains a byte-level BPE tokenizer with `vocab_size` tokens (including [`EOT`], id 0) on
/// `texts`. `texts` may be any split of the corpus at pre-token boundaries (the trainer counts
/// pre-tokens, so the split does not change the result). Errors with
/// [`Error::VocabTooSmall`] below [`MIN_BPE_VOCAB`] and [`Error::VocabTooLarge`] when the text
/// runs out of pairs to merge first. `path` only labels errors.
#[cfg(test)]
pub fn train_bpe<I, S>(texts: I, vocab_size: usize, path: &Path) -> Result<Tokenizer>
where
    I: Iterator<Item = S> + Send,
    S: AsRef<str> + Send,
{
    let trainer = count_bpe_words(texts, vocab_size, path)?;
    finish_bpe(trainer, vocab_size, path)
}

/// The first half of BPE training: counts the pre-tokens of `texts` (streamed, in parallel) in a
/// trainer that [`finish_bpe`] then runs.
pub fn count_bpe_words<I, S>(texts: I, vocab_size: usize, path: &Path) -> Result<BpeTrainer>
where
    I: Iterator<Item = S> + Send,
    S: AsRef<str> + Send,
{
    if vocab_size < MIN_BPE_VOCAB {
        return Err(Error::VocabTooSmall {
            vocab_size,
            min: MIN_BPE_VOCAB,
        });
    }
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(vocab_size)
        .min_frequency(0)
        .show_progress(false)
        .special_tokens(vec![AddedToken::from(EOT, true)])
        // All 256 bytes, even those absent from the text, so any string can be encoded later.
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build();
    // What `TokenizerImpl::train` does, with the fast exact pre-tokenizer of `pretok` in place
    // of the configured one (same pieces, ~50x faster than fancy-regex).
    trainer
        .feed(texts, |seq| {
            Ok(pretok::pieces(seq)
                .into_iter()
                .map(pretok::byte_level)
                .collect())
        })
        .map_err(|cause| Error::Tokenizer {
            path: path.to_path_buf(),
            cause,
        })?;
    Ok(trainer)
}

/// The second half of BPE training: the merges from the counted pre-tokens, and the tokenizer.
pub fn finish_bpe(trainer: BpeTrainer, vocab_size: usize, path: &Path) -> Result<Tokenizer> {
    let tk_err = |cause| Error::Tokenizer {
        path: path.to_path_buf(),
        cause,
    };
    let mut model = BPE::default();
    let special = trainer.train(&mut model).map_err(tk_err)?;
    let mut tk: TokenizerImpl<
        BPE,
        NormalizerWrapper,
        PreTokenizerWrapper,
        PostProcessorWrapper,
        DecoderWrapper,
    > = TokenizerImpl::new(model);
    // The settings of Hugging Face's gpt2 tokenizer.json.
    tk.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    tk.with_post_processor(Some(ByteLevel::new(true, false, true)));
    tk.with_decoder(Some(ByteLevel::new(true, true, true)));
    tk.add_special_tokens(&special);
    let reached = tk.get_vocab_size(true);
    if reached < vocab_size {
        return Err(Error::VocabTooLarge {
            vocab_size,
            reached,
        });
    }
    Ok(Tokenizer::from(tk))
}

/// The word-level tokenizer of the synthetic source: id 0 is [`EOT`], id `i > 0` is the word
/// `t<i>`; words are split on whitespace and decoding joins them with single spaces.
pub fn synth_tokenizer(vocab_size: usize) -> Result<Tokenizer> {
    let mut vocab = serde_json::Map::new();
    vocab.insert(EOT.to_string(), 0.into());
    for i in 1..vocab_size {
        vocab.insert(synth_word(i as u32), i.into());
    }
    let doc = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [{
            "id": 0, "content": EOT, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true
        }],
        "normalizer": null,
        "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": null,
        // No decoder: `decode` then joins the words with single spaces, which is exactly the
        // synthetic text.
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": EOT}
    });
    Tokenizer::from_str(&doc.to_string()).map_err(|cause| Error::Tokenizer {
        path: TOKENIZER_FILE.into(),
        cause,
    })
}

/// The word for synthetic token `id` (`id > 0`).
pub fn synth_word(id: u32) -> String {
    format!("t{id}")
}

/// UTF-8 length of [`synth_word`]`(id)`: 1 + number of decimal digits.
pub fn synth_word_len(id: u32) -> u64 {
    1 + id.checked_ilog10().map_or(1, |d| d as u64 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bpe_roundtrips_text_and_rejects_bad_vocab_sizes() -> Result<()> {
        let text = "In the beginning God created the heaven and the earth.\n\
                    And the earth was without form, and void; ünïcödé ✓ 123.\n"
            .repeat(20);
        let p = Path::new("test");
        let tk = train_bpe([text.as_str()].into_iter(), 300, p)?;
        assert_eq!(tk.get_vocab_size(true), 300);
        assert_eq!(tk.token_to_id(EOT), Some(0));
        for s in [text.as_str(), "never seen: Ωmega \u{1F600}\t\n  x", ""] {
            let ids = tk.encode_fast(s, false).expect("encode").get_ids().to_vec();
            assert_eq!(tk.decode(&ids, false).expect("decode"), s);
        }
        assert!(matches!(
            train_bpe([text.as_str()].into_iter(), 100, p),
            Err(Error::VocabTooSmall { min: 257, .. })
        ));
        assert!(matches!(
            train_bpe(["ab ab ab"].into_iter(), 5000, p),
            Err(Error::VocabTooLarge { .. })
        ));
        Ok(())
    }

    #[test]
    fn bpe_training_equals_tokenizers_own_training() -> Result<()> {
        let text = "Hello  world, it's 2024!\n\tÜber naïve café — 中文 🦀\n".repeat(30)
            + "the quick brown fox jumps over the lazy dog 0123456789\n";
        let ours = train_bpe([text.as_str()].into_iter(), 320, Path::new("t"))?;
        let mut theirs: TokenizerImpl<
            BPE,
            NormalizerWrapper,
            PreTokenizerWrapper,
            PostProcessorWrapper,
            DecoderWrapper,
        > = TokenizerImpl::new(BPE::default());
        theirs.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
        theirs.with_post_processor(Some(ByteLevel::new(true, false, true)));
        theirs.with_decoder(Some(ByteLevel::new(true, true, true)));
        let mut trainer = BpeTrainerBuilder::new()
            .vocab_size(320)
            .min_frequency(0)
            .show_progress(false)
            .special_tokens(vec![AddedToken::from(EOT, true)])
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .build();
        theirs
            .train(&mut trainer, [text.as_str()].into_iter())
            .expect("train");
        let theirs = Tokenizer::from(theirs);
        assert_eq!(
            ours.to_string(false).expect("json"),
            theirs.to_string(false).expect("json")
        );
        // And the fast encoder gives tokenizers' ids.
        for s in [text.as_str(), "  odd   spacing\u{a0}\u{3000}x 'Twas 'S ½"] {
            let want = theirs
                .encode_fast(s, false)
                .expect("encode")
                .get_ids()
                .to_vec();
            assert_eq!(pretok::encode(ours.get_model(), s).expect("fast"), want);
        }
        Ok(())
    }

    #[test]
    fn synth_tokenizer_maps_ids_to_words() -> Result<()> {
        let tk = synth_tokenizer(1000)?;
        assert_eq!(tk.get_vocab_size(true), 1000);
        let ids = tk
            .encode_fast("t1 t999 t42", false)
            .expect("encode")
            .get_ids()
            .to_vec();
        assert_eq!(ids, vec![1, 999, 42]);
        assert_eq!(tk.decode(&ids, false).expect("decode"), "t1 t999 t42");
        for id in [1u32, 9, 10, 99, 100, 65535] {
            assert_eq!(synth_word_len(id), synth_word(id).len() as u64);
        }
        Ok(())
    }
}
