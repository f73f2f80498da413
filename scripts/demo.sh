#!/usr/bin/env bash
# The README's first command: the transaction monitoring system end to end on the embedded
# emulator. Builds the demo and the template's functions (release), starts the emulator in
# the demo's process from infra/template.yaml, streams a generated day (default 20,000
# transactions, yesterday UTC), fires the nightly reconciliation on the emulated clock and
# prints the summary. Exit status: 0 all checks passed, 1 a check failed (missing function,
# precision/recall below 0.9, unexplained reconciliation differences), 2 it could not run.
#
#   scripts/demo.sh [--transactions N] [--day YYYY-MM-DD] [--seed N] [--aws-faithful-polling]
#                   [--dev-functions] [--out-dir DIR]        (--help lists every flag)
#
# Output: the summary on stdout, progress on stderr, and in target/demo/: summary.json,
# ground-truth.jsonl, reports/dt=<day>/ (report.html, reconciliation.json, totals.*) and
# logs/<function>.log.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

log "building the demo (release)"
cargo build --release --workspace --bin shardwise-demo
exec "$TARGET_DIR/release/shardwise-demo" "$@"
