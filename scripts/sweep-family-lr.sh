#!/usr/bin/env bash
# Measures what docs/sweep.md's shape-family and lr-rule defaults rest on (run on a quiet machine;
# about 30-40 minutes on 2 cores). For each variant it plans the quickstart's ladder (budgets
# 5e10,1e11,2e11, 4 sizes centred on D/N = 60, span 12) on the synthetic source, runs it, fits the
# Chinchilla law and prints the residual RMSE (in ln loss) and the fitted E against the source's
# entropy. Compare: depth:1 with the width rule (the default), depth:1 with one lr for all
# (fixed), depth:2 with the width rule, and the width rule at lr_ref 1.5e-3 and 6e-3.
# Usage: scripts/sweep-family-lr.sh [OUT_DIR]   (default: sweep-family-lr)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p ladder
ladder=target/release/ladder
out=${1:-sweep-family-lr}
mkdir -p "$out"
[ -f "$out/data/meta.json" ] || "$ladder" data synth --out "$out/data" --tokens 20000000 --quiet
common=(--data "$out/data" --budgets 5e10,1e11,2e11 --sizes 4 --tokens-per-param 60 --span 12
        --set train.batch_size=8 --set eval.every=0 --set log.layer_stats_every=0)
variant() {
  local name=$1; shift
  "$ladder" sweep plan "${common[@]}" "$@" --out "$out/$name" --force >/dev/null
  "$ladder" sweep run "$out/$name" --jobs 2 --threads-per-job 1 --quiet
  "$ladder" fit "$out/$name" --law chinchilla --out "$out/$name-fit.json" >/dev/null
  python3 - "$out/$name-fit.json" "$name" "$out/data/meta.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
h = json.load(open(sys.argv[3])).get("entropy_nats_per_token")
print(f"{sys.argv[2]:<24} residual RMSE {100 * f['residuals']['rmse_log']:.2f} %  "
      f"E {f['params'].get('E', float('nan')):.4f} (entropy {h})")
PY
}
variant depth1-width --family depth:1 --lr-rule width
variant depth1-fixed --family depth:1 --lr-rule fixed
variant depth2-width --family depth:2 --lr-rule width --n-range 6.6e3:6e4
variant depth1-width-lr1.5e-3 --family depth:1 --lr-rule width --lr 1.5e-3
variant depth1-width-lr6e-3 --family depth:1 --lr-rule width --lr 6e-3
