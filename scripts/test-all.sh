#!/usr/bin/env bash
# Every test of the project: formatting, lints, the workspace's tests (against the
# in-process emulator), and the conformance suite against moto.
# This is the README's test command and exactly what CI (.ci/run) runs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

log "cargo test (workspace, against the in-process emulator)"
cargo test --workspace

log "conformance suite against moto"
"$ROOT/scripts/conformance-moto.sh"

log "all tests passed"
