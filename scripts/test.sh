#!/usr/bin/env bash
# The README's test command: install skelact with its test extras (PyTorch CPU build pinned by
# constraints.txt) into .venv, check lint, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -c constraints.txt -e ".[test]"
.venv/bin/ruff check .
# pytest exits 5 when no test is collected: that must fail loudly, never pass silently.
.venv/bin/python -m pytest -n 2 -q "$@"
