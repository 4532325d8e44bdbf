#!/usr/bin/env bash
# Mutation testing of src/skelact/models/ with mutmut (config: [tool.mutmut] in pyproject.toml).
#
#   pip install -c constraints.txt -e ".[test,mutation]"   # once, into .venv
#   bash scripts/mutation.sh [MUTANT ...]   # MUTMUT_CHILDREN=2 for two at once; resumable
#   python scripts/mutation_report.py --check                 # benchmarks/results/mutation.md
#   .venv/bin/python -m mutmut results                       # then: survivors, `mutmut show NAME`
#
# The editable install of skelact puts a meta-path finder in .venv that would import the original
# src/ instead of mutmut's mutants/src. So mutmut runs from a bare venv (.mutmut-venv) whose one
# .pth line adds .venv's site-packages as a plain path: its packages are importable, but the
# editable finder's own .pth is not processed there, and PYTHONPATH=mutants/src wins.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.mutmut-venv
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv --without-pip "$venv"
fi
"$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' | {
    read -r own; echo "$site" > "$own/skelact-deps.pth"; }
# The whole run takes longer than one sitting: every mutant's result is kept in
# benchmarks/mutation_cache.json (commit it), restored before the run and saved every few minutes
# while it runs and when it stops, so the next sitting (or another machine) continues from there.
mkdir -p mutants/src
# mutmut's incremental test map (mutmut-stats.json) never maps a function added since it was made,
# whose mutants then read "no tests": rebuild it every run (a couple of minutes)
rm -f mutants/mutmut-stats.json
.venv/bin/python scripts/mutation_cache.py restore
save() { .venv/bin/python scripts/mutation_cache.py save || true; }
( while sleep "${MUTATION_SAVE_EVERY:-300}"; do save; done ) &
saver=$!
trap 'kill $saver 2>/dev/null; save' EXIT
OMP_NUM_THREADS=1 PYTHONPATH="$PWD/mutants/src" "$venv/bin/python" -m mutmut run --max-children "${MUTMUT_CHILDREN:-1}" "$@"
