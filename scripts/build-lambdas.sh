#!/usr/bin/env bash
# Builds the Lambda functions declared in infra/template.yaml for AWS:
#   cargo lambda build --release --arm64 --bin <each function>
# cargo-lambda and zig (its cross-linker and aarch64 C compiler) come from PyPI
# (infra/requirements-build.txt) into $TARGET_DIR/tools/lambda-venv (scripts/lambda-venv.sh).
# Artifacts: $TARGET_DIR/lambda/<function>/bootstrap, the same files `sam build`
# (scripts/sam-build.sh) and the CDK's RustFunction package. Each one is checked to be an ELF
# executable for the requested architecture.
#
# Not part of CI: a cold release cross-build takes ~25-40 min on 2 cores (infra/README.md has
# the measured figures); CI checks the build declarations instead (infra/tests/test_lambda_build.py).
# The aarch64 Rust target comes from rustup, which may be unreachable: SHARDWISE_LAMBDA_ARCH=x86_64
# builds for x86_64 instead (no extra Rust target needed).
#
# One cargo invocation builds every function: cargo unifies features once and shares every
# dependency between them (per-function invocations would recheck the graph eight times).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lambda-venv.sh"
cd "$ROOT"
export CARGO_TARGET_DIR="$TARGET_DIR"

ARCH="${SHARDWISE_LAMBDA_ARCH:-arm64}"

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
  echo "nothing to build: none of the ${#FUNCTIONS[@]} functions in infra/template.yaml has a crate." >&2
  exit 2
fi

ensure_lambda_venv
export PATH="$LAMBDA_VENV/bin:$PATH"

arch_flag=()
case "$ARCH" in
  arm64)
    arch_flag=(--arm64)
    ELF_MACHINE=183
    if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
      log "adding the aarch64-unknown-linux-gnu Rust target (rustup)"
      if ! rustup target add aarch64-unknown-linux-gnu; then
        echo "cannot add the aarch64 Rust target (rustup unreachable?). Build for x86_64 instead:" >&2
        echo "  SHARDWISE_LAMBDA_ARCH=x86_64 $0   (and set Architectures to x86_64 when deploying)" >&2
        exit 1
      fi
    fi
    ;;
  x86_64) ELF_MACHINE=62 ;;
  *) echo "SHARDWISE_LAMBDA_ARCH must be arm64 or x86_64, not $ARCH" >&2; exit 1 ;;
esac

bins=()
for fn in "${present[@]}"; do bins+=(--bin "$fn"); done
log "$(cargo lambda --version), zig $("$LAMBDA_VENV/bin/python" -m ziglang version)"
log "cargo lambda build --release ${arch_flag[*]} ${bins[*]}"
start=$SECONDS
cargo lambda build --release "${arch_flag[@]}" "${bins[@]}"
took=$((SECONDS - start))

# A bootstrap that is not an executable for the Lambda architecture fails at the first invoke
# (Runtime.InvalidEntrypoint); catch it here. The ELF header is read directly (e_machine 183 =
# aarch64, 62 = x86-64) so the check does not depend on `file` being installed.
bad=0
for fn in "${present[@]}"; do
  artifact="$TARGET_DIR/lambda/$fn/bootstrap"
  if python3 - "$artifact" "$ELF_MACHINE" <<'PY'; then
import struct, sys
path, machine = sys.argv[1], int(sys.argv[2])
with open(path, "rb") as f:
    head = f.read(20)
# 64-bit, little-endian, executable (ET_EXEC 2 or PIE ET_DYN 3), for the wanted machine
ok = head[:4] == b"\x7fELF" and head[4] == 2 and head[5] == 1
ok = ok and struct.unpack_from("<H", head, 16)[0] in (2, 3) and struct.unpack_from("<H", head, 18)[0] == machine
sys.exit(0 if ok else 1)
PY
    printf '  %-18s %6s KiB\n' "$fn" "$(( $(stat -c %s "$artifact") / 1024 ))"
  else
    echo "  $fn: $artifact is missing or not a 64-bit little-endian ELF executable for $ARCH" >&2
    bad=1
  fi
done
[ "$bad" -eq 0 ] || exit 1
if [ "${#missing[@]}" -gt 0 ]; then
  echo "built ${#present[@]} of ${#FUNCTIONS[@]} functions; missing crates: ${missing[*]}" >&2
  exit 3
fi
echo "built all ${#FUNCTIONS[@]} functions ($ARCH) in ${took}s -> $TARGET_DIR/lambda/"
