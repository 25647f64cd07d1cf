#!/usr/bin/env bash
# Compaction benchmark: a realistic data set imported as one-minute blocks (what a one-minute
# write-buffer flush commits), then compacted with `strata compact --once`; against the same
# data imported once (2 h blocks). Prints bytes/sample before and after, merge samples/s per
# CPU-second, object-store requests per job, peak memory, and query latency of the pieces,
# compacted and single-import stores (api_bench.py's queries) with a result check.
#
#   bench/compact.sh [--targets N] [--hours H] [--runs R] [--window 2h|24h|both]
#                    (defaults: 40 targets, 6 hours, 5 runs, both windows)
#
# Needs python3; builds Strata in release mode unless STRATA_BIN names the binary to use.
# Exits 1 if a compacted store answers a query differently from the single import.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
TARGETS=40 HOURS=6 RUNS=5 WINDOWS=2h,24h
usage() { echo "usage: $0 [--targets N] [--hours H] [--runs R] [--window 2h|24h|both]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --targets) TARGETS=${2:?}; shift 2 ;;
    --hours) HOURS=${2:?}; shift 2 ;;
    --runs) RUNS=${2:?}; shift 2 ;;
    --window)
      case "${2:-}" in
        2h|24h) WINDOWS=$2 ;;
        both) WINDOWS=2h,24h ;;
        *) usage ;;
      esac
      shift 2 ;;
    *) usage ;;
  esac
done
if [ -z "${STRATA_BIN:-}" ]; then
  cargo build --release --quiet --bin strata
fi
STRATA=${STRATA_BIN:-target/release/strata}
if [ ! -x "$STRATA" ]; then
  echo "strata binary not found at $STRATA: run 'cargo build --release --bin strata' or set STRATA_BIN" >&2
  exit 1
fi
STRATA=$(realpath "$STRATA")
if ! "$STRATA" compact --help >/dev/null 2>&1; then
  echo "$STRATA has no 'compact' subcommand (an older build?)" >&2
  exit 1
fi
# The import's no-progress-bar flag: --quiet today; --no-progress if it gets renamed.
QUIET_FLAG=--quiet
IMPORT_HELP=$("$STRATA" import --help 2>&1 || true)
if ! grep -q -- '--quiet' <<<"$IMPORT_HELP"; then
  if grep -q -- '--no-progress' <<<"$IMPORT_HELP"; then QUIET_FLAG=--no-progress; else QUIET_FLAG=""; fi
fi

bench_workdir strata-compact-bench # the EXIT trap stops the Python driver (it stops its servers)
trap 'exit 130' INT
trap 'exit 143' TERM

echo "strata: $STRATA; $(nproc) cores; windows: ${WINDOWS/,/, }"
python3 bench/gen_dataset.py "$WORK/data.om" --targets "$TARGETS" --hours "$HOURS"
# In the background so that a signal reaches the trap at once, not after the benchmark.
python3 bench/compact_bench.py --work "$WORK" --hours "$HOURS" --runs "$RUNS" --strata "$STRATA" \
  --windows "$WINDOWS" --quiet-flag="$QUIET_FLAG" &
PY=$!
PIDS+=("$PY")
rc=0
wait "$PY" || rc=$?
PIDS=()
exit "$rc"
