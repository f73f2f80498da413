#!/usr/bin/env bash
# Every test of the project: formatting, lints, the workspace's tests (against the
# in-process emulator), the conformance suite against moto, and the offline validation of
# the SAM template and CDK app.
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

log "infrastructure: SAM expansion + cfn-lint, sam validate, CDK tests and synth, parity, least privilege"
"$ROOT/scripts/test-infra.sh"

log "all tests passed"
