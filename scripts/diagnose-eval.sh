#!/usr/bin/env bash
# The larger evaluation of `ladder diagnose` (the CI test, cli_diagnose.rs, is the small one):
# a reference ladder of tiny GPTs on the synthetic source, a Chinchilla fit through it, then
# healthy runs with other seeds and one run per planted bug, each diagnosed against the law and
# the ladder. Prints a Markdown table: run, expected cause, verdict, cause, law z.
#
#   scripts/diagnose-eval.sh [OUT_DIR]          (env: TOKENS=300000 SEEDS=5 JOBS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-diagnose-eval}
tokens=${TOKENS:-300000}
seeds=${SEEDS:-5}
jobs=${JOBS:-2}
cargo build --release -q -p ladder
L=$PWD/target/release/ladder
mkdir -p "$out"
[ -f "$out/data/meta.json" ] || "$L" data synth --out "$out/data" --tokens 4000000 >/dev/null

train() { # OUT [ARGS...]
    local dir=$1; shift
    [ -f "$dir/summary.json" ] && return 0
    "$L" train --data "$out/data" --out "$dir" --preset tiny --force --quiet \
        --set train.threads=1 --set eval.tokens=32768 "$@"
}
pids=()
spawn() { train "$@" & pids+=($!); if [ ${#pids[@]} -ge "$jobs" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi; }

half=$((tokens / 2))
for width in 32 48 64 96 128; do
    for t in $half $tokens; do
        spawn "$out/ladder/e$width-t$t" --set model.n_embd=$width --set train.tokens=$t
    done
done
for s in $(seq 1 "$seeds"); do
    spawn "$out/runs/seed$s" --set train.tokens=$tokens --set train.seed=$s
done
bugs="causal-leak stale-grad bad-init no-bias-correction bf16-weights lr-x30 repeat-data"
for b in $bugs; do
    spawn "$out/runs/$b" --set train.tokens=$tokens --debug-bug "$b"
done
wait
"$L" fit "$out/ladder" --law chinchilla --bootstrap 500 --out "$out/ladder/fit.json" >/dev/null

expect() {
    case $1 in
        seed*) echo healthy ;;
        causal-leak) echo target-leakage ;;
        stale-grad|no-bias-correction) echo optimizer-state-bug ;;
        bad-init) echo bad-initialisation ;;
        bf16-weights) echo precision-loss ;;
        lr-x30) echo lr-too-high ;;
        repeat-data) echo data-repetition ;;
    esac
}
echo "| run | expected | verdict | cause | law z |"
echo "|---|---|---|---|---|"
for r in $(seq -f "seed%g" 1 "$seeds") $bugs; do
    "$L" diagnose "$out/runs/$r" --law "$out/ladder/fit.json" --reference "$out/ladder" --json |
        python3 -c "
import json, sys
d = json.load(sys.stdin)
z = d['law']['z'] if d.get('law') else float('nan')
print(f\"| $r | $(expect "$r") | {d['verdict']} | {d['cause'] or '-'} | {z:+.1f} |\")"
done
