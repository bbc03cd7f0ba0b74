#!/usr/bin/env bash
# Installs what run.sh needs, when missing, and prints the Python 2.7 interpreter to use:
#   - Python 2.7.18 with pyenv (`pyenv install`), unless AUTOBAHN_PYTHON names an interpreter
#   - wstest (autobahntestsuite) and its dependencies at the versions of requirements.txt
# Idempotent; progress goes to stderr, the interpreter's path to stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py_version=2.7.18
if [ -n "${AUTOBAHN_PYTHON:-}" ]; then
  python="$AUTOBAHN_PYTHON"
else
  pyenv_root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
  python="$pyenv_root/versions/$py_version/bin/python"
  if [ ! -x "$python" ]; then
    if ! command -v pyenv >/dev/null 2>&1; then
      echo "autobahn: Python $py_version not found at $python and pyenv is not installed;" >&2
      echo "  install pyenv, or set AUTOBAHN_PYTHON to a Python 2.7 interpreter" >&2
      exit 1
    fi
    echo "== autobahn: installing Python $py_version with pyenv" >&2
    pyenv install -s "$py_version" >&2
  fi
fi
if [ ! -x "$(dirname "$python")/wstest" ] || ! "$python" -c 'import autobahntestsuite' 2>/dev/null; then
  echo "== autobahn: installing wstest (requirements.txt)" >&2
  "$python" -m pip --version >/dev/null 2>&1 || "$python" -m ensurepip >&2
  "$python" -m pip install -q -r "$here/requirements.txt" >&2
fi
echo "$python"
