#!/usr/bin/env bash
# Cost of `--sdc-check-every` (docs/fault-tolerance.md, "Silent data corruption") on the S preset
# (vocab 8192): 2 ranks x 1 thread and 1 process x 1 thread, every step checked (K = 1), ROUNDS
# times, plus the same runs without the check. Prints, per run, the median step time (steps 2..)
# and the seconds per check from summary.json (`sdc_check_s / sdc_checks`, measured in the run);
# the cost for K = 10 and 100 is the per-check time over K steps.
# Needs a build with `--features mpi` and Open MPI's mpirun.
#
#   cargo build --release -p ladder --features mpi
#   scripts/bench_sdc.sh OUT_DIR [STEPS] [ROUNDS]
set -euo pipefail
out=${1:?usage: scripts/bench_sdc.sh OUT_DIR [STEPS] [ROUNDS]}
steps=${2:-8}
rounds=${3:-3}
ladder=${LADDER:-target/release/ladder}
mkdir -p "$out"
data="$out/data-v8192"
[ -f "$data/meta.json" ] || "$ladder" data synth --out "$data" --vocab-size 8192 \
    --tokens 2000000 --val-tokens 131072 --quiet
common=(--data "$data" --preset S --set "train.steps=$steps" --set eval.every=0 --set eval.tokens=2048
        --set eval.final_tokens=2048 --set checkpoint.keep=1 --set train.threads=1 --peak-gflops=100
        --quiet --force)
report() {
    python3 - "$1" "$2" <<'PY'
import json, statistics, sys
run = sys.argv[2]
s = json.load(open(run + "/summary.json"))
rec = [json.loads(l) for l in open(run + "/metrics.jsonl")]
per = s["D"] / s["steps"]
ms = [1e3 * per / r["tok_per_s"] for r in rec[1:]]
line = f"{sys.argv[1]:<26} step median {statistics.median(ms):7.1f} ms (min {min(ms):.1f}, max {max(ms):.1f})"
if s.get("sdc_checks"):
    line += f"  check {1e3 * s['sdc_check_s'] / s['sdc_checks']:.2f} ms x {s['sdc_checks']}"
print(line)
PY
}
for round in $(seq "$rounds"); do
    echo "# round $round, load: $(cut -d' ' -f1-3 /proc/loadavg)"
    for k in 0 1; do
        run="$out/2ranks-k$k"
        mpirun --allow-run-as-root --oversubscribe -np 2 "$ladder" train "${common[@]}" --out "$run" \
            --set train.batch_size=4 --sdc-check-every "$k"
        report "2 ranks, K=$k" "$run"
        run="$out/1proc-k$k"
        "$ladder" train "${common[@]}" --out "$run" --sdc-check-every "$k"
        report "1 process, K=$k" "$run"
    done
done
