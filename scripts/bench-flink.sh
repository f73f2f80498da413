#!/usr/bin/env bash
# Flink side of the Shardwise-vs-Flink benchmark (issue 9).
#
#   scripts/bench-flink.sh [--events N] [--seed S] [--parallelism P] [--no-late-run]
#                          [--skip-flink] [--skip-shardwise] [--shardwise-batch-size B]
#                          [--shardwise-late-batch-size B] [--release]
#
# 1. Installs PyFlink (apache-flink $FLINK_VERSION, bundles Flink's jars) into
#    target/tools/flink-venv once; reused while the version matches. Needs Java 17.
# 2. Generates the input with the application's generator (`loadgen --jsonl`): N
#    transactions (default 2,000,000), no duplicates, no malformed records; one file with
#    late events off (the equality run) and one with them on (the late run).
# 3. Runs R1 and R2 as Flink SQL jobs in a local MiniCluster (bench/flink/run_rules.py).
# 4. `flink-bench` recomputes both rules in Rust from the same file, demands equality (and,
#    in the late run, that Flink dropped exactly the records the watermark model calls
#    late) and prints the table. Everything lands in target/bench-flink/; the late records
#    in flink-late/late-events.jsonl, for the Shardwise side's late output to match.
# 5. Shardwise side (`flink-shardwise`): R1 through the real fraud-detector function
#    (FRAUD_RULES=r1-hop) and R2 through the real daily-totals function (merchant totals,
#    no allowed lateness), each on its own in-process emulator, one after the other; each
#    must equal the reference (rows, and late records = Flink's dropped ones); its metrics
#    JSON fills the table's Shardwise row. Debug builds of the functions and drivers by
#    default; --release builds all of them in the release profile (the cold release build
#    of the AWS SDKs takes many minutes on 2 cores).
# Not part of CI: the install is ~850 MB and a 2M-event run takes minutes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

FLINK_VERSION="2.3.0"
EVENTS=2000000
SEED=7
PARALLELISM=2
LATE_RUN=1
FLINK=1
SHARDWISE=1
# Kinesis mappings take up to 10,000 records per batch: the equality run uses the maximum.
# A batch is judged against the watermark read at its start, so the late run needs batches
# spanning less event time than the lateness to detect (bench/flink/README.md, "Condition
# found on the way"): 500 records span ~7 min of a 2M-event day, the late events are 1–6 h.
SW_BATCH=10000
SW_LATE_BATCH=500
PROFILE=debug
CARGO_PROFILE=()
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --parallelism) PARALLELISM="$2"; shift 2 ;;
    --no-late-run) LATE_RUN=0; shift ;;
    --skip-flink) FLINK=0; shift ;;
    --skip-shardwise) SHARDWISE=0; shift ;;
    --shardwise-batch-size) SW_BATCH="$2"; shift 2 ;;
    --shardwise-late-batch-size) SW_LATE_BATCH="$2"; shift 2 ;;
    --release) PROFILE=release; CARGO_PROFILE=(--release); shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
OUT="$TARGET_DIR/bench-flink"
mkdir -p "$OUT"

# PyFlink into $TOOLS_DIR/flink-venv; prints the install time and size when it installs.
ensure_flink() {
  FLINK_VENV="$TOOLS_DIR/flink-venv"
  if [ ! -x "$FLINK_VENV/bin/python" ] || [ "$(cat "$FLINK_VENV/.version" 2>/dev/null)" != "$FLINK_VERSION" ]; then
    log "installing apache-flink==$FLINK_VERSION into $FLINK_VENV"
    local start=$SECONDS
    rm -rf "$FLINK_VENV"
    python3 -m venv "$FLINK_VENV"
    "$FLINK_VENV/bin/pip" install --quiet --disable-pip-version-check "apache-flink==$FLINK_VERSION"
    echo "$FLINK_VERSION" > "$FLINK_VENV/.version"
    log "installed in $((SECONDS - start)) s, $(du -sh "$FLINK_VENV" | cut -f1)"
  fi
}

if [ "$FLINK" = 1 ]; then
  java -version 2>&1 | head -1 | grep -q '"17\.' || { echo "Flink $FLINK_VERSION here is run on Java 17; found: $(java -version 2>&1 | head -1)" >&2; exit 1; }
  ensure_flink
fi
log "building loadgen, flink-bench, flink-shardwise, fraud-detector and daily-totals ($PROFILE)"
cargo build --workspace "${CARGO_PROFILE[@]}" --bin loadgen --bin flink-bench --bin flink-shardwise \
  --bin fraud-detector --bin daily-totals
BIN="$TARGET_DIR/$PROFILE"

# run MODE RULES LOADGEN_FLAGS...: generate, run Flink, compare. The input is generated
# every time (~30 s for 2M): a cached file would go stale when the generator changes.
run() {
  local mode="$1" rules="$2" batch="$3"; shift 3
  local input="$OUT/tx-$EVENTS-seed$SEED-$mode.jsonl"
  log "generating $EVENTS transactions ($mode)"
  "$BIN/loadgen" --seed "$SEED" --transactions "$EVENTS" --duplicate-rate 0 --malformed-rate 0 \
    "$@" --jsonl "$input" --ground-truth "$OUT/truth-$EVENTS-seed$SEED-$mode.jsonl"
  local dir="$OUT/flink-$mode"
  mkdir -p "$dir"
  local sw=()
  if [ "$SHARDWISE" = 1 ]; then
    log "Shardwise: R1 through fraud-detector (r1-hop), R2 through daily-totals, on the emulator ($mode)"
    "$BIN/flink-shardwise" --input "$input" --metrics-out "$dir/shardwise.json" \
      --fraud-detector-bin "$BIN/fraud-detector" --daily-totals-bin "$BIN/daily-totals" \
      --batch-size "$batch" | tee "$dir/shardwise.txt"
    sw=(--shardwise-metrics "$dir/shardwise.json")
  fi
  if [ "$FLINK" = 1 ]; then
    log "Flink $FLINK_VERSION: R1 and R2 on $input"
    "$FLINK_VENV/bin/python" bench/flink/run_rules.py --input "$input" --out-dir "$dir" \
      --metrics "$dir/metrics.json" --parallelism "$PARALLELISM" --rules "$rules"
    log "comparing with the Rust reference ($mode)"
    "$BIN/flink-bench" --input "$input" --flink-out "$dir" --flink-metrics "$dir/metrics.json" \
      --late-out "$dir/late-events.jsonl" "${sw[@]}" | tee "$dir/report.txt"
  fi
}

run no-late r1,r2 "$SW_BATCH" --no-late
if [ "$LATE_RUN" = 1 ]; then
  # The late probe (bench/flink/late.sql) tells which records Flink dropped as late.
  run late r1,r2,late "$SW_LATE_BATCH"
fi
