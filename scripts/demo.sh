#!/usr/bin/env bash
# The README's first command: installs what is needed (scripts/setup.sh), then shows tug at
# work: containers from the default busybox image, and a testkit fixture (a throwaway
# web server, as a test would start one).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bash "$repo/scripts/setup.sh"
set -x
tug images
tug run --rm busybox sh -c 'echo "hello from $(hostname), pid $$ in my own namespaces"; ls /'
tug run --rm -e GREETING=hi -w /tmp -u 1000:1000 --hostname box busybox sh -c 'echo $GREETING; pwd; id; hostname'
# A testkit fixture: a throwaway web server for a test, gone when the test ends.
cargo run -q --release --manifest-path "$repo/Cargo.toml" -p tug-testkit --example demo
