#!/usr/bin/env bash
# PAM's merge of LeNet-5 sweep point P, seed S (from run_seed.sh's plain folder), pruned again in turns with
# extra `pamkit prune` options into runs/lenet-NAME-P-sS, with the same reference scores, data and seed as the
# compare run (its first step reproduces the compare run's scores). Resumable; prints the wall time.
#   bash benchmarks/relatedness/lenet-sequential/variant.sh P S NAME [pamkit prune options...]
#   e.g. variant.sh related-k8 0 seqbd3 --backoff-drop 0.03
set -euo pipefail
P=$1
S=$2
NAME=$3
shift 3
cd "$(dirname "$0")/../../.."
seq=runs/lenet-sequential-$P-s$S/seed-$S/pam/pruned/pruning.json
ref=$(.venv/bin/python -c "import json, sys
r = json.load(open(sys.argv[1]))['reference']
print(','.join(f'{k}={v!r}' for k, v in r.items()))" "$seq")
out=runs/lenet-$NAME-$P-s$S
resume=()
[ -e "$out/.pamkit-output.json" ] && resume=(--resume)
started=$(date +%s)
OMP_NUM_THREADS=1 .venv/bin/pamkit prune "runs/lenet-plain-$P-s$S/seed-$S/pam/merged" --out "$out" "${resume[@]}" \
  --sequential --max-backoffs 2 --confirmations 2 --finetune-samples 4096 --limit 6000 --seed "$S" \
  --reference "$ref" "$@"
echo "$P seed $S $NAME: $(( $(date +%s) - started )) s wall, commit $(git rev-parse --short HEAD)"
