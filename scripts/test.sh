#!/usr/bin/env bash
# The test command of the README: unit tests and real-process integration
# tests. They need python3 (the tests create their own venv with FastAPI and
# uvicorn from tests/requirements.txt), PostgreSQL and redis-server from
# Debian's packages, openssl, tmux (the --fix prompt tests), node (the
# frontend stand-ins of the stack tests) and git (installed here when
# missing and we may).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v python3 >/dev/null || missing+=(python3 python3-venv)
command -v redis-server >/dev/null || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v ss >/dev/null || missing+=(iproute2)
command -v openssl >/dev/null || missing+=(openssl)
command -v tmux >/dev/null || missing+=(tmux)
command -v node >/dev/null || missing+=(nodejs)
command -v git >/dev/null || missing+=(git)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test.sh: please install ${missing[*]} (Debian: apt-get install ${missing[*]})" >&2
    exit 2
  fi
fi
cargo test --locked "$@"
