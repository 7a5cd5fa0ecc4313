#!/usr/bin/env bash
# The main job end to end on built-in defaults, with nothing to download or configure:
# build ladder, generate the synthetic source (its best possible loss is known), train a small
# model, evaluate it against that entropy, and sample from it. Output goes to $1 (default ladder-quickstart/).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-ladder-quickstart}

echo "== building ladder (release)"
cargo build --release --quiet -p ladder
ladder=target/release/ladder

echo "== synthetic data -> $out/data"
"$ladder" data synth --out "$out/data" --tokens 20000000 --seed 0 --force

echo "== training preset S for 300 steps (about 600k tokens) -> $out/run"
"$ladder" train --data "$out/data" --out "$out/run" --preset S --force \
    --set train.steps=300 --set train.warmup_steps=30 --set eval.every=100

echo "== evaluation"
"$ladder" eval --run "$out/run"

echo "== a sample (synthetic tokens print as t<id>; documents start with <|endoftext|>)"
"$ladder" sample --run "$out/run" --prompt "<|endoftext|>" --tokens 64 --seed 1
