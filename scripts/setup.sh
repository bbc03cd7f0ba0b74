#!/usr/bin/env bash
# Installs what building and testing the project needs on a fresh machine. Idempotent: each step
# runs only when what it installs is missing.
#   - rustfmt, clippy and the wasm32 target (rustup)
#   - wasm-bindgen-cli at the exact version of the wasm-bindgen crate in Cargo.lock (wasm/build.sh)
#   - Debian's chromium (the real-browser tests) and redis-server (the cluster tests)
#   - the npm dependencies of the wasm package (wasm/package-lock.json)
#   - Python 2.7.18 (pyenv) and wstest, the Autobahn test suite (sync-server/autobahn/install.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
  rustup target add wasm32-unknown-unknown >/dev/null
fi

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
fi

# Again whenever wasm/package-lock.json changed since the last install (a stamp of it is kept in
# node_modules), so a checkout that pulled new npm dependencies does not test with old ones.
if ! cmp -s wasm/package-lock.json wasm/node_modules/.installed-package-lock.json 2>/dev/null; then
  (cd wasm && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.installed-package-lock.json)
fi

bash sync-server/autobahn/install.sh >/dev/null
