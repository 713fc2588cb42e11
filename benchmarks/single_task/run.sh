#!/usr/bin/env bash
# Single-task baselines: test accuracy and training time of every network of three suites, on this machine.
# Usage: benchmarks/single_task/run.sh   (after `make setup`; about 30 min on 2 idle cores; finished runs are reused).
# The VGG suites train on 12,000 of the 54,000 training images (--limit caps each split; validation
# (6,000) and test (10,000) stay whole), to fit a 2-core time budget.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/bench-single-task}
PAMKIT=.venv/bin/pamkit
train() {  # NAME ARGS...: train into $OUT/NAME unless it is already there
    local name=$1; shift
    [ -f "$OUT/$name/run.json" ] || $PAMKIT train "$@" --out "$OUT/$name"
}
train fashion-paper-lenet5 --suite fashion-paper --arch lenet5 --epochs 20
train fashion4-vgg --suite fashion4 --arch vgg --epochs 5 --limit 12000
train mnist4-vgg --suite mnist4 --arch vgg --epochs 5 --limit 12000
.venv/bin/python benchmarks/single_task/report.py "$OUT"/*/ --out benchmarks/single_task
