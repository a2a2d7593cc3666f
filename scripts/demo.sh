#!/usr/bin/env bash
# Try doctor on a small broken stack of its own: builds doctor, makes a
# project in a temporary folder (a frontend whose .env points at the API, a
# FastAPI backend), breaks it the way the seed write-ups describe (an old
# server from another folder still holds the API's port; the backend would
# not start anyway: a package it imports is not installed), runs doctor on
# it, and ends what it started, by pid. Needs cargo and python3.
#
#   scripts/demo.sh            the report
#   scripts/demo.sh --json     any doctor options are passed on
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
doctor="$PWD/target/debug/doctor"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
api=$(free_port)

shop="$work/shop"
mkdir -p "$shop/backend" "$shop/frontend/src" "$work/old-checkout"
cat > "$shop/frontend/.env" <<EOF
VITE_API_URL=http://127.0.0.1:$api
EOF
cat > "$shop/frontend/src/api.js" <<'EOF'
export const api = (path) => fetch(`${import.meta.env.VITE_API_URL}${path}`)
EOF
cat > "$shop/backend/requirements.txt" <<'EOF'
fastapi
uvicorn
shop-payments-sdk
EOF
cat > "$shop/backend/main.py" <<EOF
import shop_payments_sdk
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health():
    return {"status": "ok"}


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=$api)
EOF

# The stale server: started long ago from another folder, still on the port.
# `exec -a python3` keeps its command line short, as a user typed it.
python=$(python3 -c 'import sys; print(sys.executable)')
(cd "$work/old-checkout" && exec -a python3 "$python" -m http.server "$api" --bind 127.0.0.1 >/dev/null 2>&1) &
pids+=($!)
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $api), 0.2)" 2>/dev/null && break
  sleep 0.05
done

cd "$shop"
echo "\$ doctor $*   # in ~/shop: a frontend, a FastAPI backend, an old server on :$api"
"$doctor" "$@" || true
