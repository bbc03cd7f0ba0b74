#!/usr/bin/env bash
# Builds the wasm packages and runs the JS tests of crdt-wasm:
#   - Node (node --test wasm/tests/*.test.mjs): the API against wasm/pkg/node, and the
#     WebSocket provider against a relay over loopback;
#   - the real-browser test (wasm/tests/browser/*.test.mjs) when Debian's chromium is installed
#     (apt-get install -y chromium); skipped, and said so, otherwise.
# npm dependencies come from wasm/package-lock.json (npm ci) when node_modules is missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if [ ! -d node_modules ]; then
    npm ci --no-audit --no-fund
fi
./build.sh

node --test tests/*.test.mjs

if [ -x /usr/bin/chromium ]; then
    node --test tests/browser/*.test.mjs
else
    echo "test.sh: /usr/bin/chromium not installed; the browser test did not run"
fi
