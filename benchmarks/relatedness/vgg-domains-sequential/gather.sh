#!/usr/bin/env bash
# The sequential VGG domains seeds over the seeds (PAM's tasks pruned one at a time, in task order, each retired at
# its own boundary). Each seed S ran alone, reusing the single-task networks, merges and no-merging prune of the
# held runs (a task pruned alone is never held, retired or sequenced, so no merging is the same prune either way):
#   O=runs/vgg-sequential-sS; mkdir -p $O/seed-S/none $O/seed-S/pam; cp runs/vgg-hold-sS/.pamkit-output.json $O/
#   cp -r runs/vgg-hold-sS/seed-S/single $O/seed-S/
#   cp -r runs/vgg-hold-sS/seed-S/none/merged runs/vgg-hold-sS/seed-S/none/pruned $O/seed-S/none/
#   cp -r runs/vgg-hold-sS/seed-S/pam/merged $O/seed-S/pam/
#   OUT=$O METHODS=none,pam EXECUTOR="--executor local --jobs 1" \
#     bash benchmarks/relatedness/vgg-domains-confirm/run_seed.sh S --sequential
exec bash "$(dirname "$0")/../vgg-domains-gather.sh" sequential none,pam
