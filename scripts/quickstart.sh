#!/usr/bin/env bash
# Kept for old links: the quickstart is now a command, `ladder quickstart` (docs/quickstart.md).
# Builds ladder in release mode and runs it; arguments are passed on (e.g. --size tiny --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p ladder
exec target/release/ladder quickstart "$@"
