#!/usr/bin/env bash
# Runs the Autobahn WebSocket test suite (wstest's fuzzingclient) against the relay's WebSocket
# stack (the `autobahn_echo` example of sync-server) and compares every case's behavior with
# expected.json. Exits non-zero and lists the cases that differ. See README.md beside this file.
#
# Usage: sync-server/autobahn/run.sh [--update] [CASE_PATTERN...]
#   CASE_PATTERN  run only these cases (wstest patterns such as '9.1.*'); compare only those
#   --update      rewrite expected.json from this run instead of comparing (then review the diff)
# Environment: AUTOBAHN_PYTHON (a Python 2.7 interpreter; default pyenv's 2.7.18, installed with
#   `pyenv install` when missing), CARGO_TARGET_DIR (reports go to its autobahn/ directory).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
update=0
patterns=()
for arg in "$@"; do
  case "$arg" in
    --update) update=1 ;;
    *) patterns+=("$arg") ;;
  esac
done
start=$SECONDS

# Python 2.7 and wstest, at the versions of requirements.txt.
python="$(bash "$here/install.sh")"
wstest="$(dirname "$python")/wstest"

# The echo server on the relay's WebSocket stack, with the relay's default limits.
echo "== autobahn: building the echo server"
cargo build -q -p sync-server --example autobahn_echo --manifest-path "$root/Cargo.toml"
target="${CARGO_TARGET_DIR:-$root/target}"
echo_bin="$target/debug/examples/autobahn_echo"
out="$target/autobahn"
rm -rf "$out"
mkdir -p "$out"
# The echo server runs at the relay's default limits (it reads no SYNC_* variables).
"$echo_bin" --bind 127.0.0.1:0 >"$out/echo.log" 2>&1 &
echo_pid=$!
trap 'kill "$echo_pid" 2>/dev/null || true' EXIT
addr=""
for _ in $(seq 1 300); do
  addr="$(sed -n 's/^listening on //p' "$out/echo.log")"
  [ -n "$addr" ] && break
  kill -0 "$echo_pid" 2>/dev/null || { cat "$out/echo.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "autobahn: the echo server did not start" >&2; exit 1; }

# The committed spec, with this run's address, report directory and cases.
"$python" - "$here/fuzzingclient.json" "$out/spec.json" "ws://$addr" "$out/reports" \
  "${patterns[@]+"${patterns[@]}"}" <<'EOF'
import json, sys
spec_in, spec_out, url, outdir = sys.argv[1:5]
with open(spec_in) as f:
    spec = json.load(f)
spec["servers"][0]["url"] = url
spec["outdir"] = outdir
if sys.argv[5:]:
    spec["cases"] = sys.argv[5:]
with open(spec_out, "w") as f:
    json.dump(spec, f, indent=2)
EOF

echo "== autobahn: wstest fuzzingclient against ws://$addr (log: $out/wstest.log)"
suite_start=$SECONDS
if ! (cd "$out" && timeout 1200 "$wstest" -m fuzzingclient -s "$out/spec.json") >"$out/wstest.log" 2>&1; then
  tail -n 30 "$out/wstest.log" >&2
  echo "autobahn: wstest failed" >&2
  exit 1
fi
echo "   the suite took $((SECONDS - suite_start)) s"
kill "$echo_pid" 2>/dev/null || true

compare=("$python" "$here/compare.py" "$out/reports/index.json" "$here/expected.json")
if [ "$update" = 1 ]; then
  compare+=(--update)
elif [ ${#patterns[@]} -gt 0 ]; then
  compare+=(--only-run)
fi
status=0
"${compare[@]}" || status=$?
echo "== autobahn: done in $((SECONDS - start)) s (report: $out/reports/index.html)"
exit "$status"
