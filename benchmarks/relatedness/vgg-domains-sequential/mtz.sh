#!/usr/bin/env bash
# MTZ on the sequential runs' VGG domains networks (seed S), pruned two ways with the same pruner as PAM:
# in turns (--sequential, into the sequential seed folder, beside PAM) and without a switch (runs/vgg-plain-sS).
# Both reuse the held runs' MTZ merge and every finished stage; then this copies each report and MTZ's pruning
# record to benchmarks/relatedness/vgg-domains-sequential/mtz/seed-S/. Resumable: run it again to continue.
#   bash benchmarks/relatedness/vgg-domains-sequential/mtz.sh S [sequential|plain]...   (default: both)
set -euo pipefail
S=$1
shift
cd "$(dirname "$0")/../../.."
confirm=benchmarks/relatedness/vgg-domains-confirm/run_seed.sh
here=benchmarks/relatedness/vgg-domains-sequential/mtz/seed-$S
hold=runs/vgg-hold-s$S/seed-$S
kinds=("$@")
[ $# -gt 0 ] || kinds=(sequential plain)
for k in "${kinds[@]}"; do
  out=runs/vgg-$k-s$S
  mkdir -p "$out/seed-$S/none" "$out/seed-$S/mtz"
  [ -e "$out/.pamkit-output.json" ] || cp "runs/vgg-hold-s$S/.pamkit-output.json" "$out/"
  [ -d "$out/seed-$S/single" ] || cp -r "$hold/single" "$out/seed-$S/"
  [ -d "$out/seed-$S/none/pruned" ] || cp -r "$hold/none/merged" "$hold/none/pruned" "$out/seed-$S/none/"
  [ -d "$out/seed-$S/mtz/merged" ] || cp -r "$hold/mtz/merged" "$out/seed-$S/mtz/"
  methods=none,mtz
  switch=()
  if [ "$k" = sequential ]; then
    methods=none,mtz,pam
    switch=(--sequential)
  fi
  OUT=$out METHODS=$methods EXECUTOR="--executor local --jobs 1" bash "$confirm" "$S" "${switch[@]}"
  mkdir -p "$here"
  cp "$out/seed-$S/report.md" "$here/$k-report.md"
  cp "$out/seed-$S/report.json" "$here/$k-report.json"
  cp "$out/seed-$S/mtz/pruned/pruning.json" "$here/$k-mtz-pruning.json"
done
