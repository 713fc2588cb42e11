#!/usr/bin/env bash
# Host latency of every combination: the PAM artifact against the separately pruned networks ("none"),
# measured in one run with their entry points interleaved, for the pruning benchmark's suites; then the
# emulated arm64 device on the demo's artifact. Results: $OUT/<setting>/host-<format>.json, report in
# benchmarks/bench/report/. Needs the pruned models of benchmarks/pruning/run.sh (RUNS).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-runs/bench-pruning}
OUT=${OUT:-runs/bench-latency}
DEMO=${DEMO:-runs/demo/export}
PAMKIT=.venv/bin/pamkit
for setting in ${SETTINGS:-fashion-paper-lenet5 fashion4-vgg}; do
    for method in pam none; do
        [ -f "$OUT/$setting/$method/manifest.json" ] || $PAMKIT export "$RUNS/$setting/$method/pruned/model.json" \
            --out "$OUT/$setting/$method" --formats executorch,tflite --parity-samples 8
    done
    for format in executorch tflite; do
        $PAMKIT bench "pam=$OUT/$setting/pam" "none=$OUT/$setting/none" --format "$format" --threads 1 \
            --warmup 10 --runs "${BENCH_RUNS:-100}" --pin 0 --out "$OUT/$setting/host-$format.json" > /dev/null
    done
done
if [ -f "$DEMO/manifest.json" ]; then
    $PAMKIT bench "$DEMO" --target emulated-arm64 --warmup 1 --runs 3 --out "$OUT/demo-emulated-arm64.json" > /dev/null
fi
$PAMKIT bench report "$OUT"/*/host-*.json $( [ -f "$OUT/demo-emulated-arm64.json" ] && echo "$OUT/demo-emulated-arm64.json") \
    --out benchmarks/bench/report
