#!/usr/bin/env bash
# Installs what building and testing the project needs on a fresh machine. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
# The cluster tests (sync-server/tests/cluster*.rs) start their own redis-server processes.
if ! command -v redis-server >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
  $SUDO apt-get update
  $SUDO apt-get install -y redis-server
fi
