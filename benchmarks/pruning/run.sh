#!/usr/bin/env bash
# Every merging method pruned under one rule: `pamkit compare` on three settings, over SEEDS (default 0,1,2).
# Each setting's report.md / report.json / cost.png / curves.png is copied into benchmarks/pruning/<setting>/.
# Usage: benchmarks/pruning/run.sh [setting...]   (default: all three; OUT=... to move the run directory)
# Finished stages are reused from $OUT (--resume), so an interrupted run resumes where it stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh >/dev/null
OUT=${OUT:-runs/bench-pruning}
SEEDS=${SEEDS:-0,1,2}

# VGG and ResNet-18 run reduced on our 2 CPUs: width 0.125 (VGG: 4-64 channels; ResNet-18: 8-64), 6,000
# images per split, 4,096 images per fine-tuning round; ResNet-18 compares none and pam only.
declare -A ARGS=(
  [fashion-paper-lenet5]="--suite fashion-paper --arch lenet5"
  [fashion4-vgg]="--suite fashion4 --arch vgg --arch-arg width=0.125 --limit 6000 --epochs 8 --finetune-samples 4096"
  [fashion-paper-resnet18]="--suite fashion-paper --arch resnet18 --arch-arg width=0.125 --limit 6000 --epochs 8 --finetune-samples 4096 --methods none,pam --no-oracle"
)
settings=("$@")
[ ${#settings[@]} -gt 0 ] || settings=(fashion-paper-lenet5 fashion4-vgg fashion-paper-resnet18)
for name in "${settings[@]}"; do
  # shellcheck disable=SC2086
  .venv/bin/pamkit compare ${ARGS[$name]} --seeds "$SEEDS" --resume --out "$OUT/$name"
  mkdir -p "benchmarks/pruning/$name"
  cp "$OUT/$name/report.md" "$OUT/$name/report.json" "$OUT/$name/cost.png" "$OUT/$name/curves.png" "benchmarks/pruning/$name/"
done
