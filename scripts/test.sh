#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, Rust unit/property/integration tests and
# doctests, the Autobahn WebSocket suite against the relay's WebSocket stack, then the wasm
# package's Node and real-browser tests. Installs what it needs first (scripts/setup.sh,
# idempotent). Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo doc (warnings are errors: no broken or private links in public docs)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
echo "== cargo test"
# The relay binary is built by the workspace tests; later steps reuse it instead of rebuilding.
export CRDT_RELAY_BIN="$PWD/target/debug/sync-server"
export CRDT_CLI_BIN="$PWD/target/debug/cli"
cargo test --workspace
echo "== Autobahn WebSocket test suite (sync-server/autobahn)"
bash sync-server/autobahn/run.sh
echo "== wasm: build, Node and browser tests"
bash wasm/test.sh
