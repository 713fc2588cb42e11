#!/usr/bin/env bash
# Merge time for two and four LeNet-5 and VGG-style networks (trains the networks first if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/bench-merging}
PAMKIT=.venv/bin/pamkit
[ -f "$OUT/fashion4-lenet5/run.json" ] || $PAMKIT train --suite fashion4 --arch lenet5 --epochs 10 --out "$OUT/fashion4-lenet5"
[ -f "$OUT/fashion4-vgg/run.json" ] || $PAMKIT train --suite fashion4 --arch vgg --epochs 3 --limit 6000 --out "$OUT/fashion4-vgg"
.venv/bin/python benchmarks/merging/bench.py "$OUT/fashion4-lenet5" "$OUT/fashion4-vgg"
