#!/usr/bin/env bash
# Benchmark: one timeout per hang. Wall time of a full `doctor` run at
# --timeout 1s and 2s against what hangs in the field: 1, 5 and 20 services
# that accept and never answer; a stopped Flask server (SIGSTOP) with a
# frontend asking CORS for two origins; a uvicorn reloader whose worker died
# at import. Everything is started here on ports the OS hands out and ended
# by pid on exit. Needs hyperfine and the bench venv of scripts/bench.sh.
# Usage: scripts/bench-hangs.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
command -v hyperfine >/dev/null || { echo "bench-hangs: hyperfine is missing (apt-get install hyperfine)" >&2; exit 2; }
cargo build --release --quiet
doctor=$PWD/target/release/doctor
venv=$PWD/target/bench/venv
if [ ! -x "$venv/bin/uvicorn" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
fi
pids=()
# Pids started inside $(...) subshells are written here, ended on exit too.
pidfile=$(mktemp)
cleanup() {
  for pid in "${pids[@]}" $(cat "$pidfile"); do kill -CONT "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  rm -f "$pidfile"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { until python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; do sleep 0.05; done; }

# N hung services named by one project's env file.
hung_project() {  # hung_project N -> prints the project folder
  local n=$1 dir ports=() p
  dir=$(mktemp -d)
  for _ in $(seq "$n"); do ports+=("$(free_port)"); done
  python3 scripts/hung_server.py "${ports[@]}" >/dev/null & echo $! >> "$pidfile"
  for p in "${ports[@]}"; do wait_port "$p"; done
  local i=0
  for p in "${ports[@]}"; do i=$((i + 1)); echo "SERVICE_${i}_URL=http://127.0.0.1:$p" >> "$dir/.env"; done
  echo "$dir"
}
one=$(hung_project 1); five=$(hung_project 5); twenty=$(hung_project 20)

# A stopped plain flask run (no reloader) with the fixture's vite config
# naming the frontend origin.
flask=$(mktemp -d)/flask
cp -r fixtures/stacks/flask-factory "$flask"
api=$(free_port); web=$(free_port)
grep -rl '@' "$flask" | xargs sed -i "s/@API_PORT@/$api/g; s/@WEB_PORT@/$web/g"
ln -s "$venv" "$flask/.venv"
(cd "$flask" && exec "$venv/bin/flask" run >/dev/null 2>&1) & flask_pid=$!; pids+=($flask_pid)
wait_port "$api"
kill -STOP "$flask_pid"

# uvicorn --reload whose worker died at import (the reloader holds the port).
dead=$(mktemp -d)/dead
cp -r fixtures/stacks/uvicorn-procfile "$dead"
api2=$(free_port)
grep -rl '@' "$dead" | xargs sed -i "s/@API_PORT@/$api2/g; s/@WEB_PORT@/$(free_port)/g"
ln -s "$venv" "$dead/backend/.venv"
(cd "$dead/backend" && exec "$venv/bin/uvicorn" main:app --reload --host 127.0.0.1 --port "$api2" >/dev/null 2>&1) & pids+=($!)
wait_port "$api2"
# The edit that breaks the import, saved while it runs: the reloader keeps
# the listening socket, its new worker dies at import.
sed -i '1i import notinstalledpkg' "$dead/backend/main.py"
until ! python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$api2/health', timeout=0.5)" 2>/dev/null; do sleep 0.1; done

# Three backends down, each with a heavy import (1.5 s) that then fails:
# the imports run at once, in one budget.
three=$(mktemp -d)
for svc in orders users billing; do
  mkdir -p "$three/$svc"
  printf 'import time\ntime.sleep(1.5)\nfrom fastapi import FastAPI\nimport notinstalledpkg\n\napp = FastAPI()\n' > "$three/$svc/main.py"
  printf 'fastapi\nuvicorn\n' > "$three/$svc/requirements.txt"
  printf 'web: uvicorn main:app --port %s\n' "$(free_port)" > "$three/$svc/Procfile"
  ln -s "$venv" "$three/$svc/.venv"
done

for t in 1s 2s; do
  hyperfine -N -i --runs "$runs" --export-markdown "/tmp/doctor-hangs-$t.md" \
    -n "1 hung service, --timeout $t" "$doctor --dir $one --timeout $t" \
    -n "5 hung services, --timeout $t" "$doctor --dir $five --timeout $t" \
    -n "20 hung services, --timeout $t" "$doctor --dir $twenty --timeout $t" \
    -n "stopped flask + CORS origins, --timeout $t" "$doctor --dir $flask --timeout $t --skip node" \
    -n "uvicorn reloader, worker dead at import, --timeout $t" "$doctor --dir $dead --timeout $t --skip node" \
    -n "3 backends down, each import 1.5 s, --timeout $t" "$doctor --dir $three --timeout $t"
  cat "/tmp/doctor-hangs-$t.md"
  echo
done
