# cargo-lambda and zig for the Lambda builds (scripts/build-lambdas.sh, scripts/sam-build.sh).
# Source it after lib.sh; do not run it.
#
# Both come from PyPI, pinned in infra/requirements-build.txt, into $TOOLS_DIR/lambda-venv
# (reinstalled only when the pins change). zig is the cross-linker cargo-lambda uses for
# --arm64 (it also serves as the aarch64 C compiler for crates with C code, such as ring and
# aws-lc-sys), so no aarch64 gcc or sysroot is needed.

LAMBDA_VENV="$TOOLS_DIR/lambda-venv"

ensure_lambda_venv() {
  local req="$ROOT/infra/requirements-build.txt" stamp
  stamp="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ ! -x "$LAMBDA_VENV/bin/cargo-lambda" ] || [ "$(cat "$LAMBDA_VENV/.stamp" 2>/dev/null)" != "$stamp" ]; then
    log "installing cargo-lambda and zig (infra/requirements-build.txt) into $LAMBDA_VENV"
    rm -rf "$LAMBDA_VENV"
    python3 -m venv "$LAMBDA_VENV"
    "$LAMBDA_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    echo "$stamp" > "$LAMBDA_VENV/.stamp"
  fi
}
