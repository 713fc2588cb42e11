#!/usr/bin/env bash
# Gather three VGG domains seeds pruned with one joint-search switch into one comparison and its report over the
# seeds: KIND is hold, retire or sequential (the switch), METHODS the methods the seed folders hold (default none,mtz,pam).
#   bash benchmarks/relatedness/vgg-domains-gather.sh retire none,pam
# Each seed S ran alone into runs/vgg-KIND-sS (how: vgg-domains-KIND/gather.sh). This copies each seed's folder
# into runs/vgg-KIND-gather (nothing is pruned again: every stage is finished), writes report.{md,json},
# cost.png and curves.png there, and copies them and each seed's report and PAM pruning record to
# benchmarks/relatedness/vgg-domains-KIND/.
set -euo pipefail
KIND=$1
METHODS=${2:-none,mtz,pam}
cd "$(dirname "$0")/../.."
gather=runs/vgg-$KIND-gather
mkdir -p "$gather"
cp "runs/vgg-$KIND-s0/.pamkit-output.json" "$gather/"
for S in 0 1 2; do
  [ -d "$gather/seed-$S" ] || cp -r "runs/vgg-$KIND-s$S/seed-$S" "$gather/"
done
OMP_NUM_THREADS=1 .venv/bin/pamkit compare --suite domains --arch vgg --arch-arg width=0.125 \
  --methods "$METHODS" --limit 3000 --epochs 8 --finetune-samples 2048 --max-backoffs 2 \
  --confirmations 2 --no-oracle "--$KIND" --seeds 0,1,2 --resume --out "$gather"
here=benchmarks/relatedness/vgg-domains-$KIND
cp "$gather"/report.md "$gather"/report.json "$gather"/cost.png "$gather"/curves.png "$here/"
for S in 0 1 2; do
  mkdir -p "$here/seed-$S"
  cp "$gather/seed-$S"/report.md "$gather/seed-$S"/report.json "$gather/seed-$S"/cost.png \
    "$gather/seed-$S"/curves.png "$here/seed-$S/"
  cp "$gather/seed-$S"/pam/pruned/pruning.json "$here/seed-$S/pam-pruning.json"
done
echo "gathered: commit $(git rev-parse --short HEAD)"
