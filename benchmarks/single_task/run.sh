#!/usr/bin/env bash
# Single-task baselines: test accuracy and training time of every network of three suites, on this machine.
# Usage: benchmarks/single_task/run.sh   (after `make setup`; about 1 hour on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/bench-single-task}
PAMKIT=.venv/bin/pamkit
$PAMKIT train --suite fashion-paper --arch lenet5 --epochs 20 --out "$OUT/fashion-paper-lenet5"
$PAMKIT train --suite fashion4 --arch vgg --epochs 6 --out "$OUT/fashion4-vgg"
$PAMKIT train --suite mnist4 --arch vgg --epochs 6 --out "$OUT/mnist4-vgg"
.venv/bin/python benchmarks/single_task/report.py "$OUT"/*/ --out benchmarks/single_task
