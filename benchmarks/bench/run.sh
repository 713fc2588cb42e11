#!/usr/bin/env bash
# Host latency of every combination: PAM against the separately pruned networks ("none") and MTZ, and PAM
# exported with its groups fused (`export --fuse-extra-macs $FUSE`), all measured in one run per setting
# and format with their entry points interleaved; then the emulated arm64 device on the demo's artifact.
# Usage: benchmarks/bench/run.sh [NAME=DIR ...], each DIR one seed of a `pamkit compare` run (holding
# <method>/pruned/model.json); default: the pruning benchmark's settings under $RUNS.
# Results: $OUT/<NAME>/host-<format>.json, report in benchmarks/bench/report/ (or $REPORT).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-runs/bench-pruning}
OUT=${OUT:-runs/bench-latency}
REPORT=${REPORT:-benchmarks/bench/report}
DEMO=${DEMO:-runs/demo/export}
FUSE=${FUSE:-0.5}
PAMKIT=.venv/bin/pamkit
settings=("$@")
[ ${#settings[@]} -gt 0 ] || settings=("fashion-paper-lenet5=$RUNS/fashion-paper-lenet5" "fashion4-vgg=$RUNS/fashion4-vgg")
results=()
for setting in "${settings[@]}"; do
    name=${setting%%=*} dir=${setting#*=}
    labels=()
    for method in pam none mtz pam-fused; do
        model="$dir/${method%-fused}/pruned/model.json"
        [ -f "$model" ] || continue
        fuse=0
        [ "$method" = pam-fused ] && fuse=$FUSE
        [ -f "$OUT/$name/$method/manifest.json" ] || $PAMKIT export "$model" --out "$OUT/$name/$method" \
            --formats executorch,tflite --parity-samples 8 --fuse-extra-macs "$fuse"
        labels+=("$method=$OUT/$name/$method")
    done
    for format in executorch tflite; do
        $PAMKIT bench "${labels[@]}" --format "$format" --threads 1 --warmup 10 --runs "${BENCH_RUNS:-100}" \
            --pin 0 --out "$OUT/$name/host-$format.json" > /dev/null
        results+=("$OUT/$name/host-$format.json")
    done
done
if [ -f "$DEMO/manifest.json" ]; then
    $PAMKIT bench "$DEMO" --target emulated-arm64 --warmup 1 --runs 3 --out "$OUT/demo-emulated-arm64.json" > /dev/null
    results+=("$OUT/demo-emulated-arm64.json")
fi
$PAMKIT bench report "${results[@]}" --out "$REPORT" --overwrite
