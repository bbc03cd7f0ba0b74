#!/usr/bin/env bash
# Installs what building and testing the project needs on a fresh machine. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
