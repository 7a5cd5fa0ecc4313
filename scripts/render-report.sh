#!/usr/bin/env bash
# Renders a `ladder report` HTML page to a PNG with headless Chromium, to look at the page as a
# person would (layout, fonts, figures) without a desktop.
#
#   scripts/render-report.sh sweeps/iso/report.html [report.png] [WIDTHxHEIGHT]
#
# Needs Debian's `chromium` (apt-get install -y chromium; fonts-dejavu-core for the text).
# The height defaults to 4000 px: Chromium's screenshot is of the window, not the whole page,
# so raise it for long reports (many runs or diagnosed runs).
set -euo pipefail
html=${1:?usage: render-report.sh REPORT.html [OUT.png] [WIDTHxHEIGHT]}
out=${2:-${html%.html}.png}
size=${3:-1200x4000}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
    echo "render-report.sh: no chromium found; install it (Debian: apt-get install -y chromium)" >&2
    exit 1
fi
[ -f "$html" ] || { echo "render-report.sh: $html: no such file" >&2; exit 1; }
abs=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
out_abs=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
# --no-sandbox: Chromium refuses to run as root with its sandbox (CI and containers run as root).
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size="${size/x/,}" --screenshot="$out_abs" "file://$abs" >/dev/null 2>&1
[ -s "$out_abs" ] || { echo "render-report.sh: chromium wrote no screenshot" >&2; exit 1; }
echo "wrote $out"
