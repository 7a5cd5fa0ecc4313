#!/usr/bin/env bash
# Data-parallel throughput (docs/distributed.md, BENCHMARKS.md "Data-parallel training"):
# one process × 2 threads vs `mpirun -np 2` × 1 thread at the same global batch (8 × 256), on the
# S and M presets, interleaved ROUNDS times. Prints one line per run from its summary.json.
# Needs a build with `--features mpi` and Open MPI's mpirun.
#
#   cargo build --release -p ladder --features mpi
#   scripts/bench_dp.sh OUT_DIR [STEPS] [ROUNDS]
set -euo pipefail
out=${1:?usage: scripts/bench_dp.sh OUT_DIR [STEPS] [ROUNDS]}
steps=${2:-12}
rounds=${3:-2}
ladder=${LADDER:-target/release/ladder}
mkdir -p "$out"
data="$out/data-v8192"
[ -f "$data/meta.json" ] || "$ladder" data synth --out "$data" --vocab-size 8192 \
    --tokens 2000000 --val-tokens 131072 --quiet
common=(--data "$data" --set "train.steps=$steps" --set eval.every=0 --set eval.tokens=2048
        --set checkpoint.keep=1 --peak-gflops=100 --quiet --force)
report() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
s = json.load(open(sys.argv[2] + "/summary.json"))
c = s.get("comm_time_s")
steps = s["steps"]; t = s["D"] / s["tok_per_s"]
extra = "" if c is None else f"  all-reduce {1e3*c/steps:.1f} ms/step = {100*c/t:.1f}% of step time"
print(f"{sys.argv[1]:<28} {s['tok_per_s']:8.0f} tok/s  {1e3*t/steps:7.1f} ms/step{extra}")
EOF
}
for round in $(seq "$rounds"); do
    for preset in S M; do
        echo "# round $round, preset $preset, load: $(cut -d' ' -f1-3 /proc/loadavg)"
        run="$out/$preset-1proc-2threads"
        "$ladder" train "${common[@]}" --out "$run" --preset "$preset" --set train.threads=2
        report "$preset 1 process x 2 threads" "$run"
        run="$out/$preset-2ranks-1thread"
        mpirun --allow-run-as-root -np 2 --bind-to core "$ladder" train "${common[@]}" --out "$run" \
            --preset "$preset" --set train.batch_size=4 --set train.threads=1
        report "$preset 2 ranks x 1 thread" "$run"
    done
done
