#!/usr/bin/env bash
# Offline validation of infra/ (issue 8): the SAM template and the CDK app, without an AWS
# account. Installs its own tools (pinned): Python ones from PyPI into
# $TARGET_DIR/tools/infra-venv, the CDK app's npm packages into infra/cdk/node_modules; both are
# reinstalled only when their pins change, so re-runs are quick. Then runs:
#   1. tsc --noEmit on the CDK app
#   2. the CDK assertions tests (node --test)
#   3. cdk synth with the real CLI (bundling skipped: no Rust build needed)
#   4. pytest infra/tests: SAM expansion + cfn-lint, sam validate --lint, least privilege,
#      cargo-lambda build declarations (binary names vs `cargo metadata`, handler/runtime/arch),
#      SAM-vs-CDK parity (on the template from step 3), broken templates must fail
# Every step runs even if an earlier one failed; a summary follows; exit status is non-zero if
# any step failed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

INFRA="$ROOT/infra"
CDK_DIR="$INFRA/cdk"
VENV="$TOOLS_DIR/infra-venv"
OUT="$TARGET_DIR/infra"
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
# No credentials are needed or looked up: never wait on the EC2 metadata service.
export AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_VERSION_CHECK=1 PIP_DISABLE_PIP_VERSION_CHECK=1

fingerprint() { cat "$@" | sha256sum | cut -d' ' -f1; }

ensure_infra_venv() {
  local stamp; stamp="$(fingerprint "$INFRA/requirements.txt")-$(python3 -c 'import sys; print(sys.version_info[:2])')"
  if [ ! -x "$VENV/bin/pytest" ] || [ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$stamp" ]; then
    log "installing infra/requirements.txt into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || return 1
    # --no-compile: bytecode is compiled lazily on first import; saves minutes of CPU here.
    "$VENV/bin/pip" install --quiet --no-compile -r "$INFRA/requirements.txt" || return 1
    echo "$stamp" > "$VENV/.stamp"
  fi
}

ensure_cdk_modules() {
  command -v node >/dev/null || { echo "node is required (>= 18) for the CDK app" >&2; return 1; }
  local major; major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 18 ] || { echo "node $major is too old: the CDK tests need node >= 18" >&2; return 1; }
  local stamp; stamp="$(fingerprint "$CDK_DIR/package.json" "$CDK_DIR/package-lock.json")"
  if [ ! -x "$CDK_DIR/node_modules/.bin/cdk" ] || [ "$(cat "$CDK_DIR/node_modules/.shardwise-stamp" 2>/dev/null)" != "$stamp" ]; then
    log "installing the CDK app's pinned npm packages (npm ci) into $CDK_DIR/node_modules"
    (cd "$CDK_DIR" && npm ci --no-audit --no-fund --loglevel=error) || return 1
    echo "$stamp" > "$CDK_DIR/node_modules/.shardwise-stamp"
  fi
}

RESULTS=()
FAILED=0
# Runs one step and records PASS/FAIL. Note: `set -e` does not apply inside a command run as
# `cmd || status=$?`, so the step functions return on failure explicitly (`|| return 1`).
step() {
  local name="$1"; shift
  log "$name"
  local start=$SECONDS status=0
  "$@" || status=$?
  local took=$((SECONDS - start))
  if [ "$status" -eq 0 ]; then
    RESULTS+=("PASS  ${took}s  $name")
  else
    RESULTS+=("FAIL  ${took}s  $name (exit $status)")
    FAILED=1
  fi
}

cdk_typecheck() { (cd "$CDK_DIR" && node_modules/.bin/tsc --noEmit --incremental --tsBuildInfoFile "$OUT/cdk.tsbuildinfo"); }
cdk_assertions() { (cd "$CDK_DIR" && node --require ts-node/register/transpile-only --test test/stack.test.ts); }
cdk_synth() {
  rm -rf "$OUT/cdk.out"
  (cd "$CDK_DIR" && SHARDWISE_SKIP_BUNDLING=1 node_modules/.bin/cdk synth --quiet --no-notices --output "$OUT/cdk.out") || return 1
  test -s "$OUT/cdk.out/Shardwise.template.json"
}
python_tests() {
  # -p no:cacheprovider: nothing written into the source tree. Exit 5 (no tests) counts as failure.
  SHARDWISE_CDK_TEMPLATE="$OUT/cdk.out/Shardwise.template.json" \
    "$VENV/bin/python" -m pytest -p no:cacheprovider -q -rfE "$INFRA/tests"
}

mkdir -p "$OUT"
step "install Python tools (infra/requirements.txt)" ensure_infra_venv
step "install CDK npm packages (infra/cdk/package-lock.json)" ensure_cdk_modules
if [ "$FAILED" -eq 0 ]; then
  log "tools: $("$VENV/bin/sam" --version), $("$VENV/bin/cfn-lint" --version), aws-sam-translator $("$VENV/bin/python" -c 'import samtranslator; print(samtranslator.__version__)'), aws-cdk $("$CDK_DIR/node_modules/.bin/cdk" --version 2>/dev/null), node $(node --version)"
  step "CDK app type-checks (tsc --noEmit)" cdk_typecheck
  step "CDK assertions tests (node --test)" cdk_assertions
  step "cdk synth (CLI, bundling skipped)" cdk_synth
  step "pytest infra/tests (expansion+cfn-lint, sam validate, least privilege, parity, broken templates)" python_tests
fi

printf '\n\033[1m== infra summary\033[0m\n'
printf '  %s\n' "${RESULTS[@]}"
if [ "$FAILED" -ne 0 ]; then
  echo "infra validation FAILED" >&2
  exit 1
fi
echo "infra validation passed"
