#!/usr/bin/env bash
# Builds the Lambda functions declared in infra/template.yaml for AWS:
#   cargo lambda build --release --arm64 --bin <each function>
# cargo-lambda and zig (its cross-linker) come from PyPI (infra/requirements-build.txt) into
# $TARGET_DIR/tools/lambda-venv. Artifacts: $TARGET_DIR/lambda/<function>/bootstrap, which
# `sam build` and the CDK's RustFunction also produce.
#
# Not part of CI: a release cross-build takes many minutes on 2 cores, and the aarch64 Rust
# target comes from rustup, which may be unreachable. SHARDWISE_LAMBDA_ARCH=x86_64 builds for
# x86_64 instead (no extra Rust target needed).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
export CARGO_TARGET_DIR="$TARGET_DIR"

ARCH="${SHARDWISE_LAMBDA_ARCH:-arm64}"
VENV="$TOOLS_DIR/lambda-venv"
REQ="$ROOT/infra/requirements-build.txt"

# Functions = the SAM template's `Binary:` build properties (the template is the source of truth).
mapfile -t FUNCTIONS < <(sed -n 's/^ *Binary: *\([a-z0-9-]*\) *$/\1/p' infra/template.yaml)
if [ "${#FUNCTIONS[@]}" -eq 0 ]; then
  echo "no functions found in infra/template.yaml (no 'Binary:' build properties)" >&2
  exit 1
fi

present=() missing=()
for fn in "${FUNCTIONS[@]}"; do
  if [ -f "functions/$fn/Cargo.toml" ]; then present+=("$fn"); else missing+=("$fn"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "function crates not written yet (expected functions/<name>/Cargo.toml): ${missing[*]}" >&2
fi
if [ "${#present[@]}" -eq 0 ]; then
  echo "nothing to build: none of the ${#FUNCTIONS[@]} functions in infra/template.yaml has a crate yet." >&2
  echo "They arrive with the application (issue 7); this script builds them once they exist." >&2
  exit 2
fi

stamp="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/cargo-lambda" ] || [ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$stamp" ]; then
  log "installing cargo-lambda and zig into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
  echo "$stamp" > "$VENV/.stamp"
fi
export PATH="$VENV/bin:$PATH"

arch_flag=()
if [ "$ARCH" = "arm64" ]; then
  arch_flag=(--arm64)
  if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    log "adding the aarch64-unknown-linux-gnu Rust target (rustup)"
    if ! rustup target add aarch64-unknown-linux-gnu; then
      echo "cannot add the aarch64 Rust target (rustup unreachable?). Build for x86_64 instead:" >&2
      echo "  SHARDWISE_LAMBDA_ARCH=x86_64 $0   (and set Architectures to x86_64 when deploying)" >&2
      exit 1
    fi
  fi
elif [ "$ARCH" != "x86_64" ]; then
  echo "SHARDWISE_LAMBDA_ARCH must be arm64 or x86_64, not $ARCH" >&2
  exit 1
fi

bins=()
for fn in "${present[@]}"; do bins+=(--bin "$fn"); done
log "cargo lambda build --release ${arch_flag[*]} ${bins[*]}"
cargo lambda build --release "${arch_flag[@]}" "${bins[@]}"

for fn in "${present[@]}"; do
  ls -l "$TARGET_DIR/lambda/$fn/bootstrap"
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "built ${#present[@]} of ${#FUNCTIONS[@]} functions; missing crates: ${missing[*]}" >&2
  exit 3
fi
echo "built all ${#FUNCTIONS[@]} functions ($ARCH)"
