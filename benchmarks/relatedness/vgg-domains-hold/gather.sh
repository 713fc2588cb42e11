#!/usr/bin/env bash
# The held VGG domains seeds over the seeds. Each seed S ran alone:
#   OUT=runs/vgg-hold-sS bash benchmarks/relatedness/vgg-domains-confirm/run_seed.sh S --hold
# (seed 1 reused the single-task networks and merges of runs/sweeps-vgg).
exec bash "$(dirname "$0")/../vgg-domains-gather.sh" hold none,mtz,pam
