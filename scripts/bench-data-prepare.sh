#!/usr/bin/env bash
# Throughput of tokenizer training + encoding: `ladder data prepare` against the Python
# `tokenizers` library doing the same work on the same corpus, both on 2 threads.
#
# Usage: scripts/bench-data-prepare.sh [MB=100] [REPEATS=3] [VOCAB=8192] [OUTDIR=bench/runs/data-prepare-<date>-<host>]
#
# Corpus: the KJV (scripts/kjv-text.sh; needs `apt-get install bible-kjv-text`) repeated until MB
# megabytes, each copy varied (its verses in a seeded order, chapter:verse numbers shifted) so the
# text is not one block repeated; without `bible`, English-like text from a seeded Zipf word
# generator. The corpus is one text file, one document, as `ladder data prepare --input` reads it.
#
# Same work on both sides: a byte-level BPE with the GPT-2 pre-tokenizer (regex, no prefix space),
# VOCAB tokens with <|endoftext|> included, all 256 bytes in the alphabet, min frequency 0,
# trained on the text, then the whole text encoded and the ids written as u16 to a file.
#   ladder:  ladder data prepare --input corpus.txt --vocab-size VOCAB (RAYON_NUM_THREADS=2; it
#            also hashes the files, holds out 0.5 % for validation and re-checks ~1 MB of its
#            encoding with `tokenizers`' slow fancy-regex pre-tokenizer)
#   python:  tokenizers.Tokenizer(BPE()) + pre_tokenizers.ByteLevel(add_prefix_space=False) +
#            BpeTrainer, train_from_iterator over line-aligned chunks of PY_CHUNK_BYTES (default
#            4096: batches of short documents, as `datasets` feeds it; 1 MB chunks encoded ~1.5x
#            slower in a quick check), then encode_batch of the same chunks
#            (RAYON_NUM_THREADS=2 and RAYON_RS_NUM_CPUS=2)
# Both processes are also pinned to 2 CPUs with taskset when the machine has more. Runs alternate
# (ladder, python, ladder, ...) so load drift hits both. MB/s = corpus MB / wall seconds.
#
# LADDER_BIN=path uses that ladder binary instead of building one.
# Needs: python3 with venv and pip (the `tokenizers` wheel is installed into $VENV, default
# ../venv-data-bench beside the repository, outside it); builds ladder in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-100}
repeats=${2:-3}
vocab=${3:-8192}
out=${4:-bench/runs/data-prepare-$(date +%Y-%m-%d)-$(hostname -s)}
venv=${VENV:-../venv-data-bench}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet tokenizers
fi
py="$venv/bin/python"

if [ -n "${LADDER_BIN:-}" ]; then
  bin=$(realpath "$LADDER_BIN")  # an already-built binary (e.g. for a quick check of this script)
else
  cargo build --release -p ladder >/dev/null
  bin=$(pwd)/${CARGO_TARGET_DIR:-target}/release/ladder
fi

# --- corpus -------------------------------------------------------------------------------
corpus="$out/corpus.txt"
if [ ! -s "$corpus" ] || [ "$(stat -c %s "$corpus")" -lt $((mb * 1000000)) ]; then
  kjv=""
  if command -v bible >/dev/null; then
    kjv="$out/kjv.txt"
    [ -s "$kjv" ] || scripts/kjv-text.sh "$kjv" >/dev/null
  fi
  "$py" - "$corpus" "$mb" "$kjv" <<'PY'
import random, re, sys
path, mb, kjv = sys.argv[1], int(sys.argv[2]), sys.argv[3]
target = mb * 1_000_000
rng = random.Random(20261202)
if kjv:
    lines = open(kjv, encoding="utf-8").read().splitlines()
else:
    words = [w for w in ("the of and to in a is that for it as was with be by on not he this are or "
             "his from at which but have an they you were her she there one all we their been has "
             "ladder scaling law token model loss data naïve café — “quoted” 1.5 42").split()]
    weights = [1.0 / (i + 1) for i in range(len(words))]
    lines = [" ".join(rng.choices(words, weights, k=rng.randint(4, 18))).capitalize() + "."
             for _ in range(100_000)]
num = re.compile(r"\d+")
written = 0
with open(path, "w", encoding="utf-8") as f:
    copy = 0
    while written < target:
        order = list(range(len(lines)))
        if copy:
            rng.shuffle(order)
        for i in order:
            line = lines[i]
            if copy:
                line = num.sub(lambda m: str(int(m.group()) + copy), line)
            s = line + "\n"
            f.write(s)
            written += len(s.encode("utf-8"))
            if written >= target:
                break
        copy += 1
print(f"corpus: {written / 1e6:.1f} MB, {copy} copies of {'the KJV' if kjv else 'generated text'}")
PY
fi
bytes=$(stat -c %s "$corpus")

# --- the two pipelines ----------------------------------------------------------------------
pin=()
if [ "$(nproc)" -gt 2 ] && command -v taskset >/dev/null; then pin=(taskset -c 0,1); fi

cat > "$out/hf_prepare.py" <<'PY'
"""Train a GPT-2-style byte-level BPE with Hugging Face tokenizers and encode the corpus."""
import array, sys
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

path, vocab, ids_out, step = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
text = open(path, encoding="utf-8").read()
chunks, start = [], 0
while start < len(text):
    end = text.find("\n", start + step)
    end = len(text) if end < 0 else end + 1
    chunks.append(text[start:end])
    start = end
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(
    vocab_size=vocab, min_frequency=0, show_progress=False,
    special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train_from_iterator(chunks, trainer=trainer)
ids = array.array("H")
for enc in tok.encode_batch(chunks, add_special_tokens=False):
    ids.extend(enc.ids)
ids.append(tok.token_to_id("<|endoftext|>"))
with open(ids_out, "wb") as f:
    ids.tofile(f)
print(len(ids), "tokens", file=sys.stderr)
PY

ladder_cmd=(env RAYON_NUM_THREADS=2 "${pin[@]}" "$bin" data prepare --input "$corpus"
  --out "$out/ladder-data" --vocab-size "$vocab" --force --quiet)
python_cmd=(env RAYON_NUM_THREADS=2 RAYON_RS_NUM_CPUS=2 TOKENIZERS_PARALLELISM=true "${pin[@]}"
  "$py" "$out/hf_prepare.py" "$corpus" "$vocab" "$out/hf-ids.bin" "${PY_CHUNK_BYTES:-4096}")

# One run: wall seconds and peak RSS (KB) appended to $out/times.tsv.
timed() {
  local name=$1 t0 t1 rss=NA
  local -n cmd="${name}_cmd"
  t0=$(date +%s.%N)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f %M -o "$out/rss.txt" "${cmd[@]}" 2>>"$out/$name.log"
    rss=$(tail -1 "$out/rss.txt")
  else
    "${cmd[@]}" 2>>"$out/$name.log"
  fi
  t1=$(date +%s.%N)
  printf '%s\t%s\t%s\n' "$name" "$(awk "BEGIN { print $t1 - $t0 }")" "$rss" >> "$out/times.tsv"
}

{
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; pinned: ${pin[*]:-no}"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "ladder: $("$bin" --version)"
  echo "python: $("$py" -c 'import sys, tokenizers; print(sys.version.split()[0], "tokenizers", tokenizers.__version__)')"
  echo "corpus: $bytes bytes, vocab $vocab, $repeats runs each; python chunks ${PY_CHUNK_BYTES:-4096} bytes"
} | tee "$out/info.txt"

: > "$out/times.tsv"
for r in $(seq "$repeats"); do
  timed ladder
  timed python
  echo "run $r: $(tail -2 "$out/times.tsv" | awk -F'\t' '{printf "%s %.2fs  ", $1, $2}')"
done

"$py" - "$out/times.tsv" "$bytes" <<'PY' | tee "$out/summary.txt"
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
mb = int(sys.argv[2]) / 1e6
med = {}
for name in ("ladder", "python"):
    secs = [float(r[1]) for r in rows if r[0] == name]
    rss = [r[2] for r in rows if r[0] == name and r[2] != "NA"]
    rates = sorted(mb / s for s in secs)
    med[name] = statistics.median(rates)
    peak = f", peak RSS {max(int(x) for x in rss) / 1024:.0f} MB" if rss else ""
    print(f"{name:7s} {med[name]:7.2f} MB/s median (min {rates[0]:.2f}, max {rates[-1]:.2f}; "
          f"{len(rates)} runs of {mb:.1f} MB; {statistics.median(secs):.2f} s median{peak})")
print(f"ratio ladder/python (medians): {med['ladder'] / med['python']:.2f}x")
PY
