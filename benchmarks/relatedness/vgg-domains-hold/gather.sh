#!/usr/bin/env bash
# Gather the held VGG domains seeds into one comparison and its report over the seeds. Each seed S ran alone:
#   OUT=runs/vgg-hold-sS bash benchmarks/relatedness/vgg-domains-confirm/run_seed.sh S --hold
# (seed 1 reused the single-task networks and merges of runs/sweeps-vgg). This copies each seed's folder into
# runs/vgg-hold-gather (nothing is pruned again: every stage is finished) and writes report.{md,json}, cost.png
# and curves.png there, then copies them here.
set -euo pipefail
cd "$(dirname "$0")/../../.."
gather=runs/vgg-hold-gather
mkdir -p "$gather"
cp runs/vgg-hold-s1/.pamkit-output.json "$gather/"
for S in 0 1 2; do
  [ -d "$gather/seed-$S" ] || cp -r "runs/vgg-hold-s$S/seed-$S" "$gather/"
done
OMP_NUM_THREADS=1 .venv/bin/pamkit compare --suite domains --arch vgg --arch-arg width=0.125 \
  --methods none,mtz,pam --limit 3000 --epochs 8 --finetune-samples 2048 --max-backoffs 2 \
  --confirmations 2 --no-oracle --hold --seeds 0,1,2 --resume --out "$gather"
here=benchmarks/relatedness/vgg-domains-hold
cp "$gather"/report.md "$gather"/report.json "$gather"/cost.png "$gather"/curves.png "$here/"
for S in 0 1 2; do
  mkdir -p "$here/seed-$S"
  cp "$gather/seed-$S"/report.md "$gather/seed-$S"/report.json "$gather/seed-$S"/cost.png \
    "$gather/seed-$S"/curves.png "$here/seed-$S/"
done
echo "gathered: commit $(git rev-parse --short HEAD)"
