#!/usr/bin/env bash
# The LeNet-5 sweep point P over seeds 0-2, pruned in turns and plain (run_seed.sh P S for each seed first):
# gathers each kind's seed folders into runs/lenet-KIND-P (nothing is pruned again), writes its report over the
# seeds, and reads the two against each other with benchmarks/pruning/settings.py. Writes into
# benchmarks/relatedness/lenet-sequential/: P.{md,json,png} (plain against sequential) and P-KIND-report.{md,json}.
#   bash benchmarks/relatedness/lenet-sequential/gather.sh P
set -euo pipefail
P=$1
cd "$(dirname "$0")/../../.."
here=benchmarks/relatedness/lenet-sequential
for kind in plain sequential; do
  gather=runs/lenet-$kind-$P
  mkdir -p "$gather"
  cp "runs/lenet-$kind-$P-s0/.pamkit-output.json" "$gather/"
  for S in 0 1 2; do
    [ -d "$gather/seed-$S" ] || cp -r "runs/lenet-$kind-$P-s$S/seed-$S" "$gather/"
  done
  switch=()
  [ "$kind" = plain ] || switch=(--sequential)
  OMP_NUM_THREADS=1 .venv/bin/pamkit compare --suite "$P" --arch lenet5 --methods none,mtz,pam --limit 6000 \
    --epochs 8 --finetune-samples 4096 --max-backoffs 2 --confirmations 2 --no-oracle "${switch[@]}" \
    --seeds 0,1,2 --resume --out "$gather" >/dev/null
  cp "$gather/report.md" "$here/$P-$kind-report.md"
  cp "$gather/report.json" "$here/$P-$kind-report.json"
done
OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pruning/settings.py "plain=runs/lenet-plain-$P" \
  "sequential=runs/lenet-sequential-$P" --out "$here/$P" --title "Pruning in turns (--sequential), $P, LeNet-5"
echo "gathered $P: commit $(git rev-parse --short HEAD)"
