#!/usr/bin/env bash
# Pipeline benchmark (issue 7's targets): PutRecords→alert latency percentiles in the
# emulator's fast and AWS-faithful polling modes, then the throughput of the whole stack
# (a generated day put as fast as PutRecords allows, all stream functions attached).
#
#   scripts/bench-pipeline.sh [--release] [--events N] [--rate R] [-- more pipeline-bench args]
#
# --release builds pipeline-bench (the in-process emulator) and the functions in the
# release profile (the stack builds the functions in the profile of the binary that runs
# it); debug by default. --events N: transactions of the throughput run's day (default
# 20,000; 0 skips it). --rate R: transactions/s of the latency runs (default 200).
# Anything after `--` goes to pipeline-bench (see `pipeline-bench --help`: --seconds,
# --trigger-every, --warmup, --lanes, --no-latency, ...). Prints figures, asserts nothing.
# Function logs land in target/pipeline-bench/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

PROFILE=debug
CARGO_PROFILE=()
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --release) PROFILE=release; CARGO_PROFILE=(--release); shift ;;
    --events) ARGS+=(--events "$2"); shift 2 ;;
    --rate) ARGS+=(--rate "$2"); shift 2 ;;
    --) shift; ARGS+=("$@"); break ;;
    *) echo "unknown argument $1 (more pipeline-bench arguments go after --)" >&2; exit 2 ;;
  esac
done

log "building pipeline-bench ($PROFILE)"
# --workspace, not -p: the same feature set as every other build, no second SDK copy.
cargo build --workspace "${CARGO_PROFILE[@]}" --bin pipeline-bench
log "running pipeline-bench ($PROFILE; the functions are built in the same profile)"
"$TARGET_DIR/$PROFILE/pipeline-bench" "${ARGS[@]}"
