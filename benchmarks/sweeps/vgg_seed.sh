#!/usr/bin/env bash
# One VGG seed of the relatedness sweep, timed job by job for project.py's VGG half: the VGG domains settings
# (vgg-domains-confirm/run_seed.sh: width 0.125, 3,000 frames per split, 2,048 images per fine-tune, half of
# run.sh's sizes), trained from scratch on one local worker so that each job's seconds in OUT/jobs.json are its
# own. Usage: benchmarks/sweeps/vgg_seed.sh [SEED] [OUT]   (default 1, runs/sweeps-vgg)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${2:-runs/sweeps-vgg} EXECUTOR="--executor local --jobs 1" \
  exec benchmarks/relatedness/vgg-domains-confirm/run_seed.sh "${1:-1}"
