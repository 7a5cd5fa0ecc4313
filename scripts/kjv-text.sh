#!/usr/bin/env bash
# Writes the King James Bible as plain UTF-8 text to the file named by $1 (default: kjv.txt).
# Debian's bible-kjv-text ships it compressed; its reader `bible` (package bible-kjv) prints it.
# Install with: apt-get install bible-kjv-text
set -euo pipefail
out=${1:-kjv.txt}
command -v bible >/dev/null || { echo "error: 'bible' not found; install it with: apt-get install bible-kjv-text" >&2; exit 1; }
tmp=$(mktemp "${out}.XXXXXX")
bible "Gen1:1-Rev22:21" > "$tmp"
mv "$tmp" "$out"
echo "wrote $out ($(wc -c < "$out") bytes)"
