#!/usr/bin/env bash
# Builds what the example pages need and starts the relay serving them:
#   1. the wasm package (wasm/build.sh: wasm32 target, wasm-bindgen-cli pinned to Cargo.lock,
#      wasm-opt when npm is there) into wasm/pkg/web, which examples/web/pkg links to;
#   2. `cargo run --release -p sync-server -- --static examples/web`: 127.0.0.1:8080, documents in
#      the embedded SQLite database ./sync-server.db.
# It prints the pages' addresses once the relay listens; open one in two windows to see live
# collaboration. Extra arguments go to the relay (e.g. --bind 127.0.0.1:9000, --memory).
# Ctrl-C stops the relay gracefully.
#
#   ./scripts/run-relay.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# wasm-opt (shrinks the module) comes with the npm packages of wasm/; without npm the build
# still works, the module is just larger.
if [ ! -d wasm/node_modules ] && command -v npm >/dev/null 2>&1; then
    (cd wasm && npm ci --no-audit --no-fund)
fi
if [ "${SKIP_WASM_BUILD:-0}" != 1 ] || [ ! -f wasm/pkg/web/crdt_wasm.js ]; then
    bash wasm/build.sh
fi

cargo build --release -p sync-server
echo "run-relay.sh: starting the relay (Ctrl-C stops it)"
target_dir="$(cargo metadata --format-version 1 --no-deps --offline 2>/dev/null \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
"${target_dir:-$root/target}/release/sync-server" --static "$root/examples/web" "$@" | while IFS= read -r line; do
    echo "$line"
    case "$line" in
        "listening on "*)
            addr="${line#listening on }"
            echo
            echo "  Open in two windows:  http://$addr/editor/   (shared note, live cursors)"
            echo "                        http://$addr/todo/     (shared todo list)"
            echo "  Terminal peer:        cargo run -p examples --bin cli -- --url ws://$addr/sync --doc notes"
            echo
            ;;
    esac
done
