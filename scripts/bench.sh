#!/usr/bin/env bash
# Benchmark: doctor against ss and lsof on a loaded loopback.
# Load: ~8k ESTABLISHED + ~2k TIME_WAIT sockets and ~300 idle processes, all
# started here and ended by pid on exit. Needs hyperfine (apt-get install hyperfine).
# Usage: scripts/bench.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing (apt-get install hyperfine)" >&2; exit 2; }
cargo build --release --quiet
doctor=$PWD/target/release/doctor

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  exec 3>&- 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 300); do sleep 900 & pids+=($!); done

# The load generator keeps its sockets until its stdin (fd 3 here) closes.
coproc LOAD { python3 scripts/load.py 4000 2000; }
pids+=("$LOAD_PID")
read -r load_port tw_port <&"${LOAD[0]}"

# A dev server the focused report looks at, on a port the OS hands out.
dev_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$dev_port" --bind 127.0.0.1 >/dev/null 2>&1 & pids+=($!)
until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$dev_port),0.2)" 2>/dev/null; do sleep 0.05; done

demo=$(mktemp -d)
printf 'VITE_API_URL=http://localhost:%s\nDATABASE_URL=postgresql://u:p@localhost:5432/db\n' "$dev_port" > "$demo/.env"

# A healthy FastAPI stack (fixtures/stacks/fastapi-pkg-root): the backend
# from a venv, up and answering; the frontend the real vite 8 (pinned in
# tests/node/vite8, installed here once with npm ci). A healthy run imports
# nothing of the project.
venv=$PWD/target/bench/venv
if [ ! -x "$venv/bin/uvicorn" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
fi
vite=$PWD/target/bench/vite8
if [ ! -x "$vite/node_modules/.bin/vite" ]; then
  mkdir -p "$vite" && cp tests/node/vite8/package.json tests/node/vite8/package-lock.json "$vite/"
  (cd "$vite" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
stack_copy() {  # stack_copy DEST API WEB: the fixture with its ports filled in
  cp -r fixtures/stacks/fastapi-pkg-root "$1"
  grep -rl '@' "$1" | xargs sed -i "s/@API_PORT@/$2/g; s/@WEB_PORT@/$3/g"
  ln -s "$venv" "$1/.venv"
  ln -s "$vite/node_modules" "$1/frontend/node_modules"
}
healthy=$(mktemp -d)/stack
api=$(free_port); web=$(free_port)
stack_copy "$healthy" "$api" "$web"
(cd "$healthy" && exec "$venv/bin/python" -m uvicorn backend.app.main:app --host 127.0.0.1 --port "$api" >/dev/null 2>&1) & pids+=($!)
if command -v node >/dev/null; then
  (cd "$healthy/frontend" && exec node node_modules/.bin/vite >/dev/null 2>&1) & pids+=($!)
  until python3 -c "import socket; socket.create_connection(('127.0.0.1',$web),0.2)" 2>/dev/null; do sleep 0.05; done
fi
until python3 -c "import socket; socket.create_connection(('127.0.0.1',$api),0.2)" 2>/dev/null; do sleep 0.05; done
# The same stack with the backend down: the import runs; its own time is in
# the report's probes.
down=$(mktemp -d)/stack
stack_copy "$down" "$(free_port)" "$(free_port)"

echo "sockets: $(ss -tanH | wc -l) TCP ($(ss -tanH state established | wc -l) established, $(ss -tanH state time-wait | wc -l) time-wait); processes: $(ls -d /proc/[0-9]* | wc -l)"
echo "doctor $("$doctor" --version | cut -d' ' -f2), $(nproc) cores"

hyperfine -N -i --warmup 3 --runs "$runs" --export-markdown /tmp/doctor-bench.md \
  -n 'ss -tanp' 'ss -tanp' \
  -n 'lsof -nP -iTCP' 'lsof -nP -iTCP' \
  -n "doctor port (dev server)" "$doctor port $dev_port" \
  -n "doctor port (loaded port, 8k sockets)" "$doctor port $load_port" \
  -n "doctor port --json (loaded port, 8k sockets)" "$doctor port $load_port --json" \
  -n 'doctor (full run)' "$doctor --dir $demo" \
  -n 'doctor (healthy FastAPI stack, full run)' "$doctor --dir $healthy"
cat /tmp/doctor-bench.md
echo
echo "healthy FastAPI stack: $("$doctor" --dir "$healthy" >/dev/null && echo 'exit 0, silent' || echo 'NOT silent')"
echo -n "import probe on the stack with its backend down (ms, 5 runs): "
for _ in 1 2 3 4 5; do
  "$doctor" --dir "$down" --only python --json | python3 -c 'import json,sys; print(*[p["ms"] for p in json.load(sys.stdin)["probes"] if p.get("import")], end=" ")'
done
echo

rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }
echo
echo "peak RSS (KiB): ss -tanp $(rss ss -tanp) · doctor port $(rss "$doctor" port "$dev_port") · doctor port loaded $(rss "$doctor" port "$load_port") · doctor full $(rss "$doctor" --dir "$demo") · doctor healthy FastAPI $(rss "$doctor" --dir "$healthy")"
rm -rf "$demo"

# Discovery on a repo whose node_modules holds 50,000 files: it must not walk it.
big=$(mktemp -d)
cp -r fixtures/projects/fastapi-vite/. "$big"/
python3 - "$big/frontend/node_modules" <<'PY'
import os, sys
root = sys.argv[1]
for p in range(500):
    d = os.path.join(root, f"pkg{p}", "lib")
    os.makedirs(d)
    for f in range(100):
        open(os.path.join(d, f"f{f}.js"), "w").close()
PY
echo
echo "discovery with a 50k-file node_modules ($(find "$big/frontend/node_modules" -type f | wc -l) files):"
for _ in 1 2 3 4 5; do "$doctor" --dir "$big" --only user --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["project"]["discovery_ms"], "ms")'; done | sort -n | tr '\n' ' '
echo
hyperfine -N -i --warmup 2 --runs "$runs" -n 'doctor --only user (50k node_modules)' "$doctor --dir $big --only user" 2>/dev/null | grep -E "Time|Range"
rm -rf "$big"

# S20: five endpoints that accept and never answer, --timeout 1s: the whole
# run (every check) must end in under 2 s.
hung_ports=$(python3 -c 'import socket
ps=[]
for _ in range(5):
    s=socket.socket(); s.bind(("127.0.0.1",0)); ps.append(s)
print(" ".join(str(s.getsockname()[1]) for s in ps))')
python3 scripts/hung_server.py $hung_ports >/dev/null & pids+=($!)
for p in $hung_ports; do until python3 -c "import socket; socket.create_connection(('127.0.0.1',$p),0.2)" 2>/dev/null; do sleep 0.05; done; done
empty=$(mktemp -d)
urls=""
for p in $hung_ports; do urls="$urls --url http://127.0.0.1:$p/health"; done
echo
hyperfine -N -i --warmup 1 --runs 10 -n "doctor, 5 hung endpoints, --timeout 1s" "$doctor --dir $empty --timeout 1s $urls" 2>/dev/null | grep -E "Time|Range"
rm -rf "$empty"

# The https feature: binary size with and without it.
cargo build --release --quiet --no-default-features --target-dir target/plain
echo
echo "release binary: $(stat -c %s target/release/doctor) bytes with https (rustls+ring), $(stat -c %s target/plain/release/doctor) bytes without"
