#!/usr/bin/env bash
# One seed of VGG (width 0.125) on the domains point, reduced: 3,000 frames per split, 2,048 images per fine-tune.
S=$1
cd /work/main
started=$(date +%s)
OMP_NUM_THREADS=1 nice -n 19 .venv/bin/pamkit compare --suite domains --arch vgg --arch-arg width=0.125 \
  --methods none,mtz,pam --limit 3000 --epochs 8 --finetune-samples 2048 --max-backoffs 2 --no-oracle \
  --seeds "$S" --resume --out runs/vgg-domains-s$S
echo "seed $S: rc $? $(( $(date +%s) - started )) s wall" >> runs/logs/vgg-wall.log
