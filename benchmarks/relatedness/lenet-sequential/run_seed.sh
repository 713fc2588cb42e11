#!/usr/bin/env bash
# LeNet-5 sweep point P, seed S, pruned two ways with today's pruner (confirmations 2, back-offs 2): in turns
# (--sequential: every merged method's tasks pruned one at a time, each retired at its own boundary) into
# runs/lenet-sequential-P-sS, and without a switch (plain) into runs/lenet-plain-P-sS, which reuses the first
# folder's single-task networks, merges and no-merging prune (a task pruned alone is never sequenced, so no
# merging is the same prune either way). The sweep's settings otherwise (run.sh), no oracle. Resumable.
#   bash benchmarks/relatedness/lenet-sequential/run_seed.sh P S        (then gather.sh P)
set -euo pipefail
P=$1
S=$2
cd "$(dirname "$0")/../../.."
common=(--suite "$P" --arch lenet5 --limit 6000 --epochs 8 --finetune-samples 4096 --max-backoffs 2
  --confirmations 2 --no-oracle --executor local --jobs 1 --seeds "$S" --resume)
seq=runs/lenet-sequential-$P-s$S
plain=runs/lenet-plain-$P-s$S
started=$(date +%s)
OMP_NUM_THREADS=1 .venv/bin/pamkit compare "${common[@]}" --methods none,mtz,pam --sequential --out "$seq"
echo "$P seed $S sequential: $(( $(date +%s) - started )) s wall, commit $(git rev-parse --short HEAD)"
mkdir -p "$plain/seed-$S/none" "$plain/seed-$S/mtz" "$plain/seed-$S/pam"
[ -e "$plain/.pamkit-output.json" ] || cp "$seq/.pamkit-output.json" "$plain/"
[ -d "$plain/seed-$S/single" ] || cp -r "$seq/seed-$S/single" "$plain/seed-$S/"
[ -d "$plain/seed-$S/none/pruned" ] || cp -r "$seq/seed-$S/none/merged" "$seq/seed-$S/none/pruned" "$plain/seed-$S/none/"
for m in mtz pam; do
  [ -d "$plain/seed-$S/$m/merged" ] || cp -r "$seq/seed-$S/$m/merged" "$plain/seed-$S/$m/"
done
started=$(date +%s)
OMP_NUM_THREADS=1 .venv/bin/pamkit compare "${common[@]}" --methods none,mtz,pam --out "$plain"
echo "$P seed $S plain: $(( $(date +%s) - started )) s wall, commit $(git rev-parse --short HEAD)"
