#!/usr/bin/env bash
# Checks a hyper-parameter suggestion end to end (issue 15, point 5; docs/hparams.md). Run on a
# quiet machine: 84 sweep runs (models of 13k-28k parameters, 0.65-1.2M tokens each) at 2 jobs,
# then 5 runs at 4x the largest budget; `sweep plan` prints its time estimate first (not measured
# yet on a quiet machine: the estimate is timed from a few steps of each shape).
#  1. sweep lr x batch (7 x 4, log-spaced) at 3 budgets on the synthetic source, one model size
#     per budget (D/N = 60, the quickstart's ratio);
#  2. fit the per-budget optima and eta_opt(C), B_opt(C) (ladder fit --law hparams);
#  3. at 4x the largest budget, ladder suggest the lr and batch (size by the same D/N rule), and
#     train the suggestion and its neighbours at 1/2x and 2x lr and batch (5 runs);
#  4. pass when the suggested run's final val loss is within 2 standard errors (of the
#     difference) of the best of the five; print which was best and by how much.
# Usage: scripts/hparams-check.sh [OUT_DIR]   (default: hparams-check)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p ladder
ladder=target/release/ladder
out=${1:-hparams-check}
mkdir -p "$out"
[ -f "$out/data/meta.json" ] || "$ladder" data synth --out "$out/data" --tokens 20000000 --quiet
budgets=5e10,1e11,2e11
target=8e11
sets=(--set eval.every=0 --set log.layer_stats_every=0)
"$ladder" sweep plan --data "$out/data" --budgets "$budgets" --tokens-per-param 60 \
  --grid lr=1e-3:3e-2:7,batch=4:32:4 "${sets[@]}" --out "$out/sweep" --force
"$ladder" sweep run "$out/sweep" --jobs 2 --threads-per-job 1 --quiet
"$ladder" fit "$out/sweep" --law hparams --compute "$target" --out "$out/hp.json"
n=$(python3 -c "print(($target / (6 * 60)) ** 0.5)")
"$ladder" suggest --compute "$target" --n "$n" --hparams "$out/hp.json" "${sets[@]}" \
  --out "$out/suggested.toml"
read -r lr batch < <(python3 - "$out/suggested.toml" <<'PY'
import sys, tomllib
t = tomllib.load(open(sys.argv[1], "rb"))["train"]
print(t["lr"], t["batch_size"])
PY
)
half_b=$(( batch / 2 > 0 ? batch / 2 : 1 ))
train() {
  local name=$1; shift
  [ -f "$out/check/$name/summary.json" ] && return
  "$ladder" train --config "$out/suggested.toml" --data "$out/data" --out "$out/check/$name" \
    --set train.threads=1 "$@" --quiet &
}
mkdir -p "$out/check"
train suggested
train lr-x2 --set "train.lr=$(python3 -c "print($lr * 2)")"
wait
train lr-half --set "train.lr=$(python3 -c "print($lr / 2)")"
train batch-x2 --set "train.batch_size=$(( batch * 2 ))"
wait
train batch-half --set "train.batch_size=$half_b"
wait
python3 - "$out/check" <<'PY'
import json, math, os, sys
runs = {}
for name in ["suggested", "lr-x2", "lr-half", "batch-x2", "batch-half"]:
    s = json.load(open(os.path.join(sys.argv[1], name, "summary.json")))
    runs[name] = (s["final_val_loss"], s.get("final_val_loss_se") or 0.0)
    print(f"{name:<12} final val loss {runs[name][0]:.4f} ± {runs[name][1]:.4f}")
best = min(runs, key=lambda k: runs[k][0])
(ls, ss), (lb, sb) = runs["suggested"], runs[best]
gap, se = ls - lb, math.sqrt(ss * ss + sb * sb)
ok = gap <= 2 * se
print(f"best: {best}; the suggestion is {gap:.4f} above it ({gap / se if se else float('inf'):.2f} SE): "
      f"{'PASS' if ok else 'FAIL'}")
PY
