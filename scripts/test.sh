#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, Rust unit/property/integration tests and
# doctests, then the wasm package's Node and real-browser tests. Installs what it needs first
# (scripts/setup.sh, idempotent). Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace
echo "== wasm: build, Node and browser tests"
bash wasm/test.sh
