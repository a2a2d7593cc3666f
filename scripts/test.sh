#!/usr/bin/env bash
# The test command of the README: unit tests and real-process integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked "$@"
