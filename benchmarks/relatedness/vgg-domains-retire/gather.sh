#!/usr/bin/env bash
# Gather the retiring VGG domains seeds into one comparison and its report over the seeds. Each seed S ran alone,
# reusing the single-task networks, merges and no-merging prune of the held runs (a task pruned alone is never
# held or retired, so no merging is the same prune either way):
#   O=runs/vgg-retire-sS; mkdir -p $O/seed-S/none $O/seed-S/pam; cp runs/vgg-hold-sS/.pamkit-output.json $O/
#   cp -r runs/vgg-hold-sS/seed-S/single $O/seed-S/
#   cp -r runs/vgg-hold-sS/seed-S/none/merged runs/vgg-hold-sS/seed-S/none/pruned $O/seed-S/none/
#   cp -r runs/vgg-hold-sS/seed-S/pam/merged $O/seed-S/pam/
#   OUT=$O METHODS=none,pam EXECUTOR="--executor local --jobs 1" \
#     bash benchmarks/relatedness/vgg-domains-confirm/run_seed.sh S --retire
# This copies each seed's folder into runs/vgg-retire-gather (nothing is pruned again) and writes
# report.{md,json}, cost.png and curves.png there, then copies them here.
set -euo pipefail
cd "$(dirname "$0")/../../.."
gather=runs/vgg-retire-gather
mkdir -p "$gather"
cp runs/vgg-retire-s0/.pamkit-output.json "$gather/"
for S in 0 1 2; do
  [ -d "$gather/seed-$S" ] || cp -r "runs/vgg-retire-s$S/seed-$S" "$gather/"
done
OMP_NUM_THREADS=1 .venv/bin/pamkit compare --suite domains --arch vgg --arch-arg width=0.125 \
  --methods none,pam --limit 3000 --epochs 8 --finetune-samples 2048 --max-backoffs 2 \
  --confirmations 2 --no-oracle --retire --seeds 0,1,2 --resume --out "$gather"
here=benchmarks/relatedness/vgg-domains-retire
cp "$gather"/report.md "$gather"/report.json "$gather"/cost.png "$gather"/curves.png "$here/"
for S in 0 1 2; do
  mkdir -p "$here/seed-$S"
  cp "$gather/seed-$S"/report.md "$gather/seed-$S"/report.json "$gather/seed-$S"/cost.png \
    "$gather/seed-$S"/curves.png "$here/seed-$S/"
  cp "$gather/seed-$S"/pam/pruned/pruning.json "$here/seed-$S/pam-pruning.json"
done
echo "gathered: commit $(git rev-parse --short HEAD)"
