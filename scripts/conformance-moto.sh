#!/usr/bin/env bash
# Runs the conformance suite against moto server (installed into the build directory's
# virtualenv by this script). Cases where moto departs from AWS are tagged in the suite
# and skipped only here, with the deviation printed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

start_moto
trap stop_moto EXIT
log "conformance suite against moto at $MOTO_ENDPOINT"
SHARDWISE_TEST_ENDPOINT="$MOTO_ENDPOINT" SHARDWISE_TEST_TARGET=moto \
  cargo test --workspace --test conformance -- --test-threads 4 "$@"
