#!/usr/bin/env bash
# Measurement noise of a validation loss (issue 13, docs/train.md "Measurement precision"):
#   se    — the standard error `ladder eval` reports at 64 Ki tokens and on the whole validation
#           split (1 Mi tokens on the synthetic source; the held-out quarter of the King James
#           Bible, about 0.25 Mi tokens, on KJV), for one tiny-preset run per data set;
#   seeds — the seed-to-seed spread of the final (whole-split) val loss at three model sizes
#           (tiny preset, n_embd 32 / 64 / 128, same D), SEEDS seeds each, next to the mean eval SE.
# Prints one line per measurement; every run directory stays under OUT_DIR for inspection.
# Run it on a quiet machine: `seeds` trains 3 × SEEDS runs (about 10 CPU-minutes with SEEDS=5).
#
#   cargo build --release -p ladder
#   scripts/measure-eval-noise.sh OUT_DIR [se|seeds|all] [SEEDS]
set -euo pipefail
out=${1:?usage: scripts/measure-eval-noise.sh OUT_DIR [se|seeds|all] [SEEDS]}
part=${2:-all}
seeds=${3:-5}
ladder=${LADDER:-target/release/ladder}
threads=${THREADS:-2}
steps=${STEPS:-1000}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"

synth="$out/data-synth"
[ -f "$synth/meta.json" ] || "$ladder" data synth --out "$synth" --quiet   # 20 M / 1 Mi tokens

kjv_data() {
    local d="$out/data-kjv"
    if [ ! -f "$d/meta.json" ]; then
        [ -f "$out/kjv.txt" ] || "$here/kjv-text.sh" "$out/kjv.txt" >&2
        "$ladder" data prepare --input "$out/kjv.txt" --out "$d" --vocab-size 8192 \
            --val-fraction 0.25 --quiet
    fi
    echo "$d"
}

# train NAME DATA [--set ...]: a tiny-preset run of $steps steps, whole-split final evaluation.
train() {
    local name=$1 data=$2
    shift 2
    local run="$out/runs/$name"
    [ -f "$run/summary.json" ] && grep -q '"completed"' "$run/summary.json" && return 0
    "$ladder" train --preset tiny --data "$data" --out "$run" --force --quiet --peak-gflops=100 \
        --set "train.steps=$steps" --set eval.every=0 --set "train.threads=$threads" "$@"
}

# eval_line LABEL RUN TOKENS: one `ladder eval --json` as a table row.
eval_line() {
    "$ladder" eval --run "$2" --tokens "$3" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
loss, se, tokens, blocks = r["val_loss"], r["val_loss_se"], r["tokens"], r["se_blocks"]
print(f"{sys.argv[1]:<6} {tokens:>9} tokens  val_loss {loss:.4f} ± {se:.4f} "
      f"({100 * se / loss:.2f} %, {blocks} blocks)")' "$1"
}

if [ "$part" = se ] || [ "$part" = all ]; then
    echo "== eval SE of one tiny run, 64 Ki tokens vs the whole split =="
    train se-synth "$synth"
    eval_line synth "$out/runs/se-synth" 65536
    eval_line synth "$out/runs/se-synth" 0
    if command -v bible >/dev/null; then
        kjv=$(kjv_data)
        train se-kjv "$kjv"
        eval_line kjv "$out/runs/se-kjv" 65536
        eval_line kjv "$out/runs/se-kjv" 0
    else
        echo "kjv: skipped ('bible' not found: apt-get install bible-kjv-text)"
    fi
fi

if [ "$part" = seeds ] || [ "$part" = all ]; then
    echo "== seed-to-seed spread of the whole-split final val loss, $seeds seeds =="
    for embd in 32 64 128; do
        for s in $(seq 0 $((seeds - 1))); do
            train "seeds-e$embd-s$s" "$synth" --set "model.n_embd=$embd" --set "train.seed=$s"
        done
        python3 - "$out/runs" "$embd" "$seeds" <<'EOF'
import json, statistics as st, sys
runs, embd, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = [json.load(open(f"{runs}/seeds-e{embd}-s{i}/summary.json")) for i in range(k)]
loss = [x["final_val_loss"] for x in s]
se = [x["final_val_loss_se"] for x in s]
print(f"n_embd {embd:>3} (N = {s[0]['N']:>7}): mean {st.mean(loss):.4f}, seed SD {st.stdev(loss):.4f} "
      f"({100 * st.stdev(loss) / st.mean(loss):.2f} %), mean eval SE {st.mean(se):.4f}, "
      f"over {s[0]['final_val_tokens']} val tokens")
EOF
    done
    # Every run above is evaluated on the same windows: the noise they share moves all losses
    # alike; what separates two runs is each one's own noise (paired, docs/laws.md).
    python3 - "$out/runs" <<'EOF'
import json, glob, math, statistics as st, sys
runs = sorted(glob.glob(f"{sys.argv[1]}/seeds-e*-s*/summary.json"))
s = [json.load(open(f)) for f in runs]
blocks = [x["final_val_block_losses"] for x in s]
k, n = len(blocks[0]), len(blocks)
dev = [[b / (sum(bl) / k) - 1 for b in bl] for bl in blocks]
common = [sum(d[i] for d in dev) / n for i in range(k)]
own = [x["final_val_loss"] * math.sqrt(n / (n - 1) * sum((d[i] - common[i]) ** 2 for i in range(k)) / (k * (k - 1)))
       for x, d in zip(s, dev)]
cm = sum(common) / k
common_se = math.sqrt(sum((c - cm) ** 2 for c in common) / (k * (k - 1)))
print(f"paired over {n} runs: own eval SE mean {st.mean(own):.4f} (max {max(own):.4f}); "
      f"common-mode SE {100 * common_se:.2f} % of the loss")
EOF
fi
