#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, Rust unit/property/integration tests and
# doctests. Installs what it needs first (idempotent). Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace
