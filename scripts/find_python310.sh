#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter that actually runs.
# Finding a `python3.10` is not enough: a pyenv shim exists on PATH even when
# 3.10 is not the active pyenv version, and then it fails when called.
set -u

try() {  # try CMD...: print sys.executable if CMD is a working Python 3.10
  "$@" -c 'import sys, venv; assert sys.version_info[:2] == (3, 10); print(sys.executable)' 2>/dev/null
}

candidates() {
  [ -n "${PYTHON310:-}" ] && echo "$PYTHON310"
  echo python3.10
  echo python3
  echo python
  if command -v pyenv >/dev/null 2>&1; then
    for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)'); do
      prefix=$(pyenv prefix "$v" 2>/dev/null) && echo "$prefix/bin/python3.10"
    done
  fi
  for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10; do [ -x "$p" ] && echo "$p"; done
  for d in /usr/local/bin /usr/bin /opt/homebrew/bin; do echo "$d/python3.10"; done
}

for c in $(candidates); do
  if out=$(try "$c") && [ -n "$out" ]; then echo "$out"; exit 0; fi
done

cat >&2 <<'MSG'
error: no working Python 3.10 found (TFX 1.16 supports Python 3.10 only).
Tried: $PYTHON310, python3.10, python3, python on PATH, every pyenv 3.10.x, /usr/bin/python3.10.
Install one of:
  pyenv install 3.10          (then re-run; no need to make it global)
  apt-get install python3.10 python3.10-venv
  brew install python@3.10
or point PYTHON310 at an interpreter: make demo PYTHON310=/path/to/python3.10
MSG
exit 1
