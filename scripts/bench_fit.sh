#!/usr/bin/env bash
# Benchmark `ladder fit --law chinchilla` against the SciPy reference (../shared/reference/fit_ref.py)
# on the same data and machine: wall time, CPU time and best objective of each.
#
# Usage: scripts/bench_fit.sh [POINTS=250] [BOOTSTRAP=1000] [OUTDIR=bench/runs/fit-<date>]
# Needs: python3 with numpy and scipy; builds ladder in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
points=${1:-250}
boot=${2:-1000}
out=${3:-bench/runs/fit-$(date +%Y-%m-%d)-$(hostname -s)}
ref=${FIT_REF:-../shared/reference/fit_ref.py}
mkdir -p "$out"

# Data: the generator behind crates/ladder-laws/tests/fixtures/chinchilla250.csv (seed 20240).
# Epoch AI's replication of Chinchilla (E 1.82, A 482, B 2085, alpha 0.348, beta 0.366);
# N log-uniform in [1e7, 1e10], tokens/param log-uniform in [2, 200], 1 % log-normal noise.
python3 - "$points" > "$out/runs.csv" <<'PY'
import sys
import numpy as np
E, A, B, al, be = 1.82, 482.0, 2085.0, 0.348, 0.366
n = int(sys.argv[1])
rng = np.random.default_rng(20240)
N = np.exp(rng.uniform(np.log(1e7), np.log(1e10), n))
tpp = np.exp(rng.uniform(np.log(2), np.log(200), n))
D = N * tpp
L = (E + A / N**al + B / D**be) * np.exp(rng.normal(0, 0.01, n))
print("N,D,loss")
for a, b, c in zip(N, D, L):
    print(f"{a:.6e},{b:.6e},{c:.6f}")
PY

cargo build --release -p ladder >/dev/null
bin=${CARGO_TARGET_DIR:-target}/release/ladder

{
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "python: $(python3 -c 'import scipy, numpy, sys; print(sys.version.split()[0], "scipy", scipy.__version__, "numpy", numpy.__version__)')"
  echo "ladder: $($bin --version)"
} | tee "$out/setup.md"

echo "== ladder: $bin fit $out/runs.csv --law chinchilla --bootstrap $boot --out $out/fit.json"
/usr/bin/time -f "ladder wall %e s, user %U s, sys %S s, maxrss %M KB" \
  "$bin" fit "$out/runs.csv" --law chinchilla --bootstrap "$boot" --out "$out/fit.json" \
  > "$out/ladder.txt" 2> "$out/ladder.time"
cat "$out/ladder.time"

# OPENBLAS/OMP threads: NumPy's small array ops here are single-threaded either way; pinning them
# avoids idle BLAS threads spinning on the 2 cores.
echo "== scipy: python3 $ref $out/runs.csv --bootstrap $boot --json $out/scipy.json"
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/time -f "scipy wall %e s, user %U s, sys %S s, maxrss %M KB" \
  python3 "$ref" "$out/runs.csv" --bootstrap "$boot" --json "$out/scipy.json" \
  > "$out/scipy.txt" 2> "$out/scipy.time"
cat "$out/scipy.time"

python3 - "$out" <<'PY'
import json, re, sys
out = sys.argv[1]
lad = json.load(open(f"{out}/fit.json"))
ref = json.load(open(f"{out}/scipy.json"))
wall = lambda f: float(re.search(r"wall ([0-9.]+)", open(f).read()).group(1))
lw, sw = wall(f"{out}/ladder.time"), wall(f"{out}/scipy.time")
lo, so = lad["fit"]["best"], ref["objective"]
rows = [
    ("tool", "wall s", "best objective", "alpha", "beta", "alpha 95% CI"),
    ("ladder", f"{lw:.2f}", f"{lo:.17g}", f"{lad['params']['alpha']:.6f}", f"{lad['params']['beta']:.6f}",
     str([round(x, 4) for x in lad["ci95"]["alpha"]])),
    ("scipy", f"{sw:.2f}", f"{so:.17g}", f"{ref['params']['alpha']:.6f}", f"{ref['params']['beta']:.6f}",
     str([round(x, 4) for x in ref["bootstrap"]["ci95"]["alpha"]]) if "bootstrap" in ref else "-"),
]
with open(f"{out}/summary.md", "w") as f:
    for i, r in enumerate(rows):
        f.write("| " + " | ".join(r) + " |\n")
        if i == 0:
            f.write("|" + "---|" * len(r) + "\n")
    f.write(f"\nspeed-up {sw / lw:.1f}x; ladder objective - scipy objective = {lo - so:.3e} "
            f"({'OK' if lo <= so + 1e-9 else 'FAIL'}: must be <= 1e-9)\n")
    f.write(f"scipy grid {ref['grid_seconds']:.1f} s, bootstrap {ref.get('bootstrap', {}).get('seconds', 0):.1f} s\n")
print(open(f"{out}/summary.md").read())
PY
rm -f "$out/fit.json"   # 150 KB of bootstrap samples; the summary keeps what matters
