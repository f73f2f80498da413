# Shared shell helpers for the project's scripts. Source it; do not run it.
# Everything a script needs is installed here, under the build directory, never by hand.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
TOOLS_DIR="$TARGET_DIR/tools"
MOTO_VERSION="5.2.5"

log() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

# A free loopback port, chosen by the kernel.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Installs moto server into $TOOLS_DIR/moto-venv (once; reused while the version matches).
ensure_moto() {
  local venv="$TOOLS_DIR/moto-venv"
  if [ ! -x "$venv/bin/moto_server" ] || [ "$(cat "$venv/.version" 2>/dev/null)" != "$MOTO_VERSION" ]; then
    log "installing moto[server]==$MOTO_VERSION into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
    echo "$MOTO_VERSION" > "$venv/.version"
  fi
  MOTO_SERVER="$venv/bin/moto_server"
}

# Starts moto on a free loopback port; sets MOTO_PID and MOTO_ENDPOINT. Stop with stop_moto.
start_moto() {
  ensure_moto
  local port; port="$(free_port)"
  "$MOTO_SERVER" -H 127.0.0.1 -p "$port" > "$TARGET_DIR/moto-$port.log" 2>&1 &
  MOTO_PID=$!
  MOTO_ENDPOINT="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    if python3 - "$port" <<'PY' 2>/dev/null; then return 0; fi
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
PY
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then
      echo "moto server died at start; log:" >&2; cat "$TARGET_DIR/moto-$port.log" >&2; return 1
    fi
    sleep 0.2
  done
  echo "moto server did not become ready on port $port" >&2
  return 1
}

stop_moto() {
  if [ -n "${MOTO_PID:-}" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
    MOTO_PID=""
  fi
}
