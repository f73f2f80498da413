#!/usr/bin/env bash
# Emulator-vs-moto benchmark: builds in release, installs and starts moto, runs the same
# SDK workloads at concurrency 16 against both and prints the table.
# Extra arguments go to emulator-bench (e.g. --seconds 5 --filter Kinesis).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
log "building release binaries"
cargo build --release -p shardwise-emulator -p shardwise-tests --bin shardwise-local --bin emulator-bench
start_moto
trap stop_moto EXIT
"$TARGET_DIR/release/emulator-bench" --emulator-bin "$TARGET_DIR/release/shardwise-local" --moto "$MOTO_ENDPOINT" "$@"
