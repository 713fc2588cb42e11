#!/usr/bin/env bash
# The relatedness sweep (issue 13): `pamkit compare` of no merging, MTZ and PAM on the composite-frame suites
# related-k0 ... related-k10 (task B shares 10-k of task A's 10 attributes) and domains (garments vs digits),
# over SEEDS (default 0,1,2), then benchmarks/relatedness/report.{json,md} and the plots from every
# finished point (report.py). Finished stages are reused and a prune continues from its last step (--resume):
# an interrupted sweep resumes.
# Usage: benchmarks/relatedness/run.sh [point...]   (default: all six; ARCH=lenet5|vgg, OUT=..., SEEDS=...,
# REPORT=... the folder report.py writes into, default benchmarks/relatedness)
# BACKOFFS (default 2, the pruner's default): the pruner's --max-backoffs. The sweep in report.md ran before the
# pruner backed off cliffs: BACKOFFS=0 extends it with that engine; backoff/ holds the points re-pruned with it:
#   OUT=runs/relatedness-bo REPORT=benchmarks/relatedness/backoff benchmarks/relatedness/run.sh domains
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh >/dev/null
OUT=${OUT:-runs/relatedness}
SEEDS=${SEEDS:-0,1,2}
ARCH=${ARCH:-lenet5}
# 56 px frames; 6,000 frames per split, 8 training epochs, 4,096 images per step's fine-tune keep a point near
# 15 minutes per seed on one core with LeNet-5. VGG runs at width 0.125.
declare -A ARCH_ARGS=([lenet5]="" [vgg]="--arch-arg width=0.125")
COMMON="--methods none,mtz,pam --limit 6000 --epochs 8 --finetune-samples 4096 --max-backoffs ${BACKOFFS:-2}"
points=("$@")
[ ${#points[@]} -gt 0 ] || points=(related-k0 related-k2 related-k5 related-k8 related-k10 domains)
for point in "${points[@]}"; do
  started=$(date +%s)
  # shellcheck disable=SC2086
  .venv/bin/pamkit compare --suite "$point" --arch "$ARCH" ${ARCH_ARGS[$ARCH]} $COMMON --seeds "$SEEDS" \
    --resume --out "$OUT/$ARCH/$point"
  echo "$ARCH $point: $(( $(date +%s) - started )) s wall" | tee -a "$OUT/wall.log"
done
.venv/bin/python benchmarks/relatedness/report.py "$OUT" --into "${REPORT:-benchmarks/relatedness}"
