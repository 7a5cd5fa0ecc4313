#!/usr/bin/env bash
# GPT-2 against the Llama-style architecture by their scaling laws (issue 16, point 4;
# docs/compare.md). For each data set -- the built-in synthetic source and the KJV text -- it plans
# the same IsoFLOP ladder twice (3 budgets x 4 sizes, the quickstart's grid: D/N centred on 60,
# span 12), once per architecture, runs both, fits Chinchilla and IsoFLOP laws to each and compares
# them: `ladder compare` (table and JSON) and `ladder report --compare` pages.
# About 1 hour per architecture and data set on 2 cores (release build).
#
# Usage: scripts/compare-archs.sh [OUT_DIR]          (default: compare-archs)
#   LADDER=path/to/ladder  use this binary instead of building target/release/ladder
#   BUDGETS=5e10,1e11,2e11 SIZES=4 TPP=60 SPAN=12     the grid (tokens per parameter, size span)
#   TOKENS=20000000        the synthetic source's size
#   DATASETS="synth kjv"   which data sets (kjv needs Debian's bible-kjv-text; skipped without)
#   JOBS=2                 parallel runs
# A reduced check of the pipeline (minutes; too small to conclude anything):
#   BUDGETS=1e10,2e10,4e10 TPP=2 SPAN=4 TOKENS=1000000 DATASETS=synth scripts/compare-archs.sh tmp
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-compare-archs}
budgets=${BUDGETS:-5e10,1e11,2e11}
sizes=${SIZES:-4}
tpp=${TPP:-60}
span=${SPAN:-12}
tokens=${TOKENS:-20000000}
datasets=${DATASETS:-synth kjv}
jobs=${JOBS:-2}
if [ -n "${LADDER:-}" ]; then
  ladder=$LADDER
else
  cargo build --release --quiet -p ladder
  ladder=target/release/ladder
fi
mkdir -p "$out"

data_dir() {  # prepares data set $1, prints its directory (nothing when it cannot be made)
  case $1 in
    synth)
      [ -f "$out/data-synth/meta.json" ] ||
        "$ladder" data synth --out "$out/data-synth" --tokens "$tokens" --seed 0 --quiet >&2
      echo "$out/data-synth" ;;
    kjv)
      if [ ! -f "$out/data-kjv/meta.json" ]; then
        if ! scripts/kjv-text.sh "$out/kjv.txt" >&2; then
          echo "compare-archs: no KJV text (apt-get install bible-kjv-text); skipping kjv" >&2
          return 0
        fi
        "$ladder" data prepare --input "$out/kjv.txt" --out "$out/data-kjv" --vocab-size 8192 >&2
      fi
      echo "$out/data-kjv" ;;
    *) echo "compare-archs: unknown data set $1 (synth or kjv)" >&2; exit 2 ;;
  esac
}

for ds in $datasets; do
  data=$(data_dir "$ds")
  [ -n "$data" ] || continue
  for arch in gpt2 llama; do
    sweep="$out/$ds-$arch"
    # The same budgets and sizes for both architectures; N counts each one's own parameters.
    "$ladder" sweep plan --data "$data" --budgets "$budgets" --sizes "$sizes" \
      --tokens-per-param "$tpp" --span "$span" --arch "$arch" \
      --set train.batch_size=8 --set eval.every=0 --set log.layer_stats_every=0 \
      --out "$sweep" --force > "$sweep.plan.txt" 2>&1 || { cat "$sweep.plan.txt" >&2; exit 1; }
    "$ladder" sweep run "$sweep" --jobs "$jobs" --threads-per-job 1 --quiet
    for law in chinchilla isoflop; do
      # A law that cannot be fitted (e.g. no IsoFLOP vertex inside the sizes) is reported and
      # skipped; the other law still gets compared.
      rm -f "$sweep-$law.json"
      "$ladder" fit "$sweep" --law "$law" --out "$sweep-$law.json" > "$sweep-$law.txt" ||
        echo "compare-archs: no $law fit of $sweep (above); skipping it" >&2
    done
  done
  for law in chinchilla isoflop; do
    a="$out/$ds-gpt2-$law.json"; b="$out/$ds-llama-$law.json"
    [ -f "$a" ] && [ -f "$b" ] || { echo "== $ds, $law: skipped (a fit is missing)"; continue; }
    echo "== $ds, $law: A = GPT-2, B = Llama"
    "$ladder" compare "$a" "$b" | tee "$out/$ds-$law-compare.txt"
    "$ladder" compare "$a" "$b" --json > "$out/$ds-$law-compare.json" 2>/dev/null
    "$ladder" report --compare "$a" "$b" --out "$out/$ds-$law-compare.html" \
      --title "GPT-2 vs Llama on $ds ($law)"
  done
done
