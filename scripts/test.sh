#!/usr/bin/env bash
# The README's second command, and what CI runs: every test of the workspace.
# Installs what the tests need first (scripts/setup.sh, idempotent), builds the `tug`
# binary the end-to-end tests run, runs the cgroup tests in a pure cgroup v2 VM
# (scripts/test-cgroup2.sh), then every test on the host (nextest when installed: one
# process per test; else cargo test). Extra arguments go to the host's test runner.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
# Each phase says how long it took (CI has 90 minutes on 2 cores).
took() { printf 'test.sh: %s took %ds\n' "$1" "$((SECONDS - t0))" >&2; t0=$SECONDS; }
t0=$SECONDS
TUG_SETUP_PROFILE=${TUG_SETUP_PROFILE:-none} bash scripts/setup.sh
took setup
# A CI run builds once from a clean clone: incremental state would only cost disk.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi
cargo build --workspace --all-targets
took build
# The base of the testkit's database images (debootstrap; kept in the default state root,
# so made once).
"$repo/target/debug/tug" image inspect debian:bookworm-slim >/dev/null 2>&1 \
  || TUG="$repo/target/debug/tug" bash images/debian/build.sh >/dev/null
took "the debian base image"
# The book's and the workshop's fixed host ports (the notes' 45678 and its neighbours) are
# in the kernel's ephemeral range (32768-60999): any test's outgoing connection may be
# given one of them, and its TIME_WAIT then holds it for a minute, so that the book's or
# the grader's `-p 45678:45678` fails with "port is already allocated". Reserved ports
# are never picked for a connection or a `-p 80`, and can still be bound by name. The
# machine's list is restored when the run ends.
fixed_ports=45678-45682,45690,48080,48084
reserved=/proc/sys/net/ipv4/ip_local_reserved_ports
if [ -w "$reserved" ]; then
  reserved_before=$(cat "$reserved")
  trap 'echo "$reserved_before" > "$reserved"' EXIT
  echo "${reserved_before:+$reserved_before,}$fixed_ports" > "$reserved"
fi
status=0
# The contributors' docs build without a warning (broken links, bad code blocks).
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps -q || status=$?
took "the docs (rustdoc -D warnings)"
# The pure cgroup v2 lane: the cgroup tests again, in a VM with Debian's kernel.
bash scripts/test-cgroup2.sh || status=$?
took "the cgroup v2 lane"
# Doc tests first, so that the run closes on the main runner's summary.
# (A doc test's binary lives in a temporary dir: the testkit finds tug through TUG_BIN,
# not beside it, and not on PATH, where a fresh machine has none.)
TUG_BIN="$repo/target/debug/tug" cargo test --workspace --doc -q || status=$?
took "the doc tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@" || status=$?
else
  cargo test --workspace --no-fail-fast "$@" || status=$?
fi
took "the tests"
# Whatever the outcome, the tests must have cleaned up after themselves.
bash scripts/check-leaks.sh || status=1
printf 'test.sh: %ds in all\n' "$SECONDS" >&2
exit $status
