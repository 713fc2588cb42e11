#!/usr/bin/env bash
# One VGG seed of the relatedness sweep, timed job by job for project.py's VGG half: the settings of
# benchmarks/relatedness/vgg-domains/run_seed.sh (width 0.125, domains, 3,000 frames per split, 2,048 images per
# fine-tune: half of run.sh's sizes), on one local worker so that each job's seconds in OUT/jobs.json are its
# own. Usage: benchmarks/sweeps/vgg_seed.sh [SEED] [OUT]   (default 1, runs/sweeps-vgg)
set -euo pipefail
cd "$(dirname "$0")/../.."
S=${1:-1}
OUT=${2:-runs/sweeps-vgg}
started=$(date +%s)
OMP_NUM_THREADS=1 .venv/bin/pamkit compare --suite domains --arch vgg --arch-arg width=0.125 \
  --methods none,mtz,pam --limit 3000 --epochs 8 --finetune-samples 2048 --max-backoffs 2 --no-oracle \
  --seeds "$S" --executor local --jobs 1 --resume --out "$OUT"
echo "vgg seed $S: $(( $(date +%s) - started )) s wall, commit $(git rev-parse --short HEAD)"
