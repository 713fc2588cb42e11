#!/usr/bin/env bash
# The retiring VGG domains seeds over the seeds. Each seed S ran alone, reusing the single-task networks, merges
# and no-merging prune of the held runs (a task pruned alone is never held or retired, so no merging is the same
# prune either way):
#   O=runs/vgg-retire-sS; mkdir -p $O/seed-S/none $O/seed-S/pam; cp runs/vgg-hold-sS/.pamkit-output.json $O/
#   cp -r runs/vgg-hold-sS/seed-S/single $O/seed-S/
#   cp -r runs/vgg-hold-sS/seed-S/none/merged runs/vgg-hold-sS/seed-S/none/pruned $O/seed-S/none/
#   cp -r runs/vgg-hold-sS/seed-S/pam/merged $O/seed-S/pam/
#   OUT=$O METHODS=none,pam EXECUTOR="--executor local --jobs 1" \
#     bash benchmarks/relatedness/vgg-domains-confirm/run_seed.sh S --retire
exec bash "$(dirname "$0")/../vgg-domains-gather.sh" retire none,pam
