#!/usr/bin/env bash
# Branch coverage of core/ (coverage.py; settings in pyproject.toml [tool.coverage.*]).
#
# Measured over the core's own tests: tests/core and tests/evidence/test_requirements_coverage.py
# (the property tests' long simulations under the tracer cost CI about 4 minutes for 8
# statements), less the costly tests listed in tools/coverage_leaves_out.txt (long simulations
# and searches whose every branch of core/ the other tests reach, measured test by test: they
# were nine tenths of this phase's time; docs/coverage.md, "Which tests the gate runs"), on the
# `coverage` hypothesis profile (40 examples under the fixed `ci` seed: the
# same examples on every run, so the gate cannot flicker), on all cores
# (pytest-xdist workers are measured through coverage's subprocess patch). The symbolic CrossHair
# run is left out here (ITDOSE_SKIP_CROSSHAIR=1): it runs in the test phase, and under a tracer it
# would only slow down. Prints the per-module table (the figures in docs/coverage.md) and fails
# (exit 2) when core/ is under 100 % (fail_under in pyproject.toml: the CI gate).
#
# usage: tools/coverage.sh [PYTHON]   (default .venv/bin/python; run from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-.venv/bin/python}

# One --deselect a node-id prefix of the list (comments and blank lines skipped).
deselect=()
while read -r prefix; do
    deselect+=(--deselect "$prefix")
done < <(grep -v -e '^#' -e '^[[:space:]]*$' tools/coverage_leaves_out.txt)

rm -f .coverage .coverage.*
HYPOTHESIS_PROFILE=coverage ITDOSE_SKIP_CROSSHAIR=1 "$py" -m coverage run -m pytest -q -n auto --dist loadfile \
    -p no:cacheprovider "${deselect[@]}" tests/core tests/evidence/test_requirements_coverage.py
"$py" -m coverage combine -q
"$py" -m coverage report
