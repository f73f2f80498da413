#!/usr/bin/env bash
# `sam build` of infra/template.yaml without a container (issue 8, item 5).
#
# SAM's rust-cargolambda build method (a beta feature) runs `cargo lambda build --release
# --arm64 --bin <Binary>` once per function, in the function's CodeUri (`../`, the workspace
# root), and copies `<cargo target dir>/lambda/<Binary>/bootstrap` into the build directory.
# It needs cargo-lambda and zig on PATH: they come from the same pinned venv as
# scripts/build-lambdas.sh. aws-sam-cli comes from the infra venv that scripts/test-infra.sh
# installs (infra/requirements.txt); both are installed here if missing.
#
# Why the cargo target directory is exported: SAM resolves the target directory with
# `cargo metadata` (CARGO_TARGET_DIR included) and all functions share the workspace, so the
# first function compiles the dependencies and the other seven only compile and link their own
# crate. After scripts/build-lambdas.sh, cargo finds everything fresh and `sam build` is quick.
#
# Why `--no-cached` although samconfig.toml says `cached = true`: SAM's cache key is a
# checksum of every file under CodeUri, which here is the whole workspace including the
# cargo target directory (gigabytes, changing during the build), so hashing it is slow and
# never hits. cargo's own incremental build is the cache that works. Pass `--cached` after the
# script name to override.
#
# Output: $TARGET_DIR/sam-build/<Function logical id>/bootstrap and
# $TARGET_DIR/sam-build/template.yaml (the template `sam deploy` uses: see infra/README.md).
# Extra arguments go to `sam build`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lambda-venv.sh"
cd "$ROOT"
export CARGO_TARGET_DIR="$TARGET_DIR"
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_EC2_METADATA_DISABLED=true PIP_DISABLE_PIP_VERSION_CHECK=1

INFRA_VENV="$TOOLS_DIR/infra-venv"
BUILD_DIR="$TARGET_DIR/sam-build"

# Same stamp as scripts/test-infra.sh, so neither script reinstalls what the other installed.
infra_stamp="$(sha256sum "$ROOT/infra/requirements.txt" | cut -d' ' -f1)-$(python3 -c 'import sys; print(sys.version_info[:2])')"
if [ ! -x "$INFRA_VENV/bin/sam" ] || [ "$(cat "$INFRA_VENV/.stamp" 2>/dev/null)" != "$infra_stamp" ]; then
  log "installing infra/requirements.txt (aws-sam-cli) into $INFRA_VENV"
  rm -rf "$INFRA_VENV"
  python3 -m venv "$INFRA_VENV"
  "$INFRA_VENV/bin/pip" install --quiet --no-compile -r "$ROOT/infra/requirements.txt"
  echo "$infra_stamp" > "$INFRA_VENV/.stamp"
fi

# cargo-lambda + zig first on PATH (the builder looks them up there), then sam.
ensure_lambda_venv
export PATH="$LAMBDA_VENV/bin:$INFRA_VENV/bin:$PATH"

log "$(sam --version), $(cargo lambda --version), zig $("$LAMBDA_VENV/bin/python" -m ziglang version)"
start=$SECONDS
sam build \
  --template-file "$ROOT/infra/template.yaml" \
  --config-file "$ROOT/infra/samconfig.toml" \
  --build-dir "$BUILD_DIR" \
  --cache-dir "$TARGET_DIR/sam-cache" \
  --beta-features --no-cached \
  "$@"
took=$((SECONDS - start))

# Verify: one bootstrap per function of the built template, and the built template itself.
test -s "$BUILD_DIR/template.yaml" || { echo "sam build left no $BUILD_DIR/template.yaml" >&2; exit 1; }
mapfile -t LOGICAL_IDS < <(awk '/^  [A-Za-z0-9]+:$/ {id=$1} /^    Type: AWS::Serverless::Function/ {sub(":", "", id); print id}' "$ROOT/infra/template.yaml")
missing=0
for id in "${LOGICAL_IDS[@]}"; do
  if [ -x "$BUILD_DIR/$id/bootstrap" ]; then
    printf '  %-26s %6s KiB  %s\n' "$id" "$(( $(stat -c %s "$BUILD_DIR/$id/bootstrap") / 1024 ))" \
      "$(command -v file >/dev/null && file -b "$BUILD_DIR/$id/bootstrap" | cut -d, -f1-2)"
  else
    echo "  $id: no bootstrap in $BUILD_DIR/$id" >&2
    missing=1
  fi
done
[ "$missing" -eq 0 ] || exit 1
echo "sam build: ${#LOGICAL_IDS[@]} functions in ${took}s -> $BUILD_DIR (template: $BUILD_DIR/template.yaml)"
