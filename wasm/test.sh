#!/usr/bin/env bash
# Builds the wasm packages and runs the JS tests of crdt-wasm:
#   - Node (node --test wasm/tests/*.test.mjs): the API against wasm/pkg/node, and the
#     WebSocket provider against a relay over loopback;
#   - the real-browser tests (wasm/tests/browser/*.test.mjs: the package's test page, and the
#     example pages of examples/web, the editor and the todo list) when Debian's chromium is
#     installed (apt-get install -y chromium); skipped, and said so, otherwise. They run against
#     the real relay binary: $CRDT_RELAY_BIN if set, else target/debug/sync-server, built here
#     (and the terminal peer, $CRDT_CLI_BIN or target/debug/cli, for the WebRTC test).
# npm dependencies come from wasm/package-lock.json (npm ci) when node_modules is missing or was
# installed from another lock file (a stamp of it is kept in node_modules, as scripts/setup.sh does).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! cmp -s package-lock.json node_modules/.installed-package-lock.json 2>/dev/null; then
    npm ci --no-audit --no-fund
    cp package-lock.json node_modules/.installed-package-lock.json
fi
./build.sh

node --test tests/*.test.mjs

if [ -x /usr/bin/chromium ]; then
    if [ -z "${CRDT_RELAY_BIN:-}" ]; then
        (cd .. && cargo build -p sync-server --bin sync-server -p examples --bin cli)
        target_dir="$(cd .. && cargo metadata --format-version 1 --no-deps | node -e \
            'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
        export CRDT_RELAY_BIN="$target_dir/debug/sync-server"
        export CRDT_CLI_BIN="$target_dir/debug/cli"
    fi
    # One test file at a time: each starts a relay and a browser (the machine may have 2 cores).
    node --test --test-concurrency=1 tests/browser/*.test.mjs
else
    echo "test.sh: /usr/bin/chromium not installed; the browser test did not run"
fi
