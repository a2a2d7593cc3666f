#!/usr/bin/env bash
# The test command of the README: unit tests and real-process integration
# tests. They need python3 (the tests create their own venv with FastAPI and
# uvicorn from tests/requirements.txt), PostgreSQL and redis-server from
# Debian's packages, openssl, tmux (the --fix prompt tests), node and npm
# (the real frameworks, pinned under tests/node/) and git (installed here when
# missing and we may).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/need-packages.sh

missing=()
command -v python3 >/dev/null || missing+=(python3 python3-venv)
command -v redis-server >/dev/null || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v ss >/dev/null || missing+=(iproute2)
command -v openssl >/dev/null || missing+=(openssl)
command -v tmux >/dev/null || missing+=(tmux)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v git >/dev/null || missing+=(git)
need_packages test.sh "${missing[@]}"
# Every test binary runs even when one fails: a CI log names all failures.
cargo test --locked --no-fail-fast "$@"
