#!/usr/bin/env bash
# Regrouping benchmark: the estimator study (study.py) and the speed/memory comparison (bench.py),
# written to results.json, then RESULTS.md (report.py). About 10 minutes on 2 shared CPU cores.
# One torch thread by default: while other jobs used both cores, two OpenMP threads made each greedy
# step 17x slower (RESULTS.md). THREADS=2 benchmarks/regrouping/run.sh to compare.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=../../.venv/bin/python
THREADS=${THREADS:-1}
rm -f results.json
$PYTHON study.py --threads "$THREADS" > /dev/null
$PYTHON bench.py --threads "$THREADS" > /dev/null
$PYTHON report.py
