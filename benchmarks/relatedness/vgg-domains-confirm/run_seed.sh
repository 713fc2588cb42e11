#!/usr/bin/env bash
# VGG (width 0.125) on domains, seed S, pruned again with the pruner's confirmations (default 2 a prune), reusing
# the single-task networks and merges of benchmarks/relatedness/vgg-domains/run_seed.sh S. Copy them first:
#   mkdir -p runs/vgg-confirm-sS/seed-S && cp runs/vgg-domains-sS/.pamkit-output.json runs/vgg-confirm-sS/ &&
#   cp -r runs/vgg-domains-sS/seed-S/single runs/vgg-confirm-sS/seed-S/ &&
#   for m in none mtz pam; do mkdir -p runs/vgg-confirm-sS/seed-S/$m && cp -r runs/vgg-domains-sS/seed-S/$m/merged runs/vgg-confirm-sS/seed-S/$m/; done
# METHODS=pam runs PAM alone (then run again with the default to add the others; finished prunes are reused).
# CONFIRMATIONS (default 2, the pruner's default) and OUT (default runs/vgg-confirm-sS) set a higher budget apart;
# EXECUTOR (default: compare's) picks where the jobs run, e.g. "--executor local --jobs 1" (a new OUT trains too).
# Arguments after the seed go to compare as they are, e.g. --hold.
S=$1
shift
cd "$(dirname "$0")/../../.."
started=$(date +%s)
# shellcheck disable=SC2086
OMP_NUM_THREADS=1 .venv/bin/pamkit compare --suite domains --arch vgg --arch-arg width=0.125 \
  --methods "${METHODS:-none,mtz,pam}" --limit 3000 --epochs 8 --finetune-samples 2048 --max-backoffs 2 \
  --confirmations "${CONFIRMATIONS:-2}" --no-oracle ${EXECUTOR:-} \
  --seeds "$S" --resume --out "${OUT:-runs/vgg-confirm-s$S}" "$@"
echo "confirm seed $S: rc $? $(( $(date +%s) - started )) s wall, commit $(git rev-parse --short HEAD)"
