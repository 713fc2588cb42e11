"""Export benchmark: file size with every entry point against the all-tasks entry point alone, and export time.

For each model and format: export all 2^n - 1 combinations, then the all-tasks combination alone,
with the public ``pamkit.export`` API; report sizes, their ratio (goal: at most 1.05) and the time
to write (tracing vs joint lowering) and to validate. With --jobs-compare, also export the first
model to every format at once with one process and with one process per format (side by side).
Writes results.json and prints a table.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/export/run.py MODEL.json [MODEL.json ...] --out runs/bench-export
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from pamkit.export import DEFAULT_FORMATS, ExportOptions, export
from pamkit.network import load_multitask
from pamkit.train import model_data
from pamkit.train.run import current_command
from pamkit.versions import package_versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="multitask model .json files")
    parser.add_argument("--out", default="runs/bench-export")
    parser.add_argument("--formats", default=",".join(DEFAULT_FORMATS))
    parser.add_argument("--parity-samples", type=int, default=8)
    parser.add_argument("--jobs-compare", action="store_true")
    parser.add_argument("--skip-sizes", action="store_true", help="only the --jobs-compare part")
    args = parser.parse_args()
    out, rows, jobs = Path(args.out), [], []
    for model in args.models:
        net, _ = load_multitask(model)
        data = model_data(net.structure.input_spec, net.structure.provenance, limit=1000)
        everything = "+".join(net.task_names)
        name = "-".join(Path(model).parts[-4:-1])  # e.g. fashion4-vgg-pam-pruned
        for fmt in [] if args.skip_sizes else args.formats.split(","):
            row = {"model": model, "format": fmt, "tasks": len(net.task_names),
                   "weights_bytes": 4 * sum(p.numel() for p in net.parameters())}
            for label, combos in (("all_entries", "all"), ("all_tasks_only", everything)):
                started = time.perf_counter()
                manifest = export(net, data, out / name / f"{fmt}-{label}",
                                  ExportOptions(formats=(fmt,), combinations=combos,
                                                parity_samples=args.parity_samples, overwrite=True), progress=False)
                item = manifest["files"][0]
                row[label] = {"entries": len(item["entries"]), "size": item["size"],
                              "export_seconds": item["export_seconds"], "trace_seconds": item["trace_seconds"],
                              "total_seconds": round(time.perf_counter() - started, 2)}
            row["size_ratio"] = row["all_entries"]["size"] / row["all_tasks_only"]["size"]
            rows.append(row)
            print(f"{model}  {fmt:<11}{row['all_entries']['entries']:>3} entries {row['all_entries']['size']:>11,} B"
                  f"  alone {row['all_tasks_only']['size']:>11,} B  ratio {row['size_ratio']:.3f}  export "
                  f"{row['all_entries']['export_seconds']:.1f} s (tracing {row['all_entries']['trace_seconds']:.1f})"
                  f" vs {row['all_tasks_only']['export_seconds']:.1f} s alone", flush=True)
    if args.jobs_compare:
        net, _ = load_multitask(args.models[0])
        data = model_data(net.structure.input_spec, net.structure.provenance, limit=1000)
        for processes in (1, 0, 1, 0):  # alternated, twice: the machine is noisy
            started = time.perf_counter()
            manifest = export(net, data, out / "jobs", ExportOptions(formats=tuple(args.formats.split(",")),
                                                                     parity_samples=args.parity_samples, jobs=processes,
                                                                     overwrite=True), progress=False)
            seconds = time.perf_counter() - started
            jobs.append({"model": args.models[0], "jobs": processes or "one per format", "seconds": round(seconds, 1),
                         "per_format": {f["format"]: f["export_seconds"] for f in manifest["files"]}})
            print(f"all formats, jobs={processes or 'auto'}: {seconds:.1f} s wall "
                  f"({', '.join(f'{k} {v:.1f} s' for k, v in jobs[-1]['per_format'].items())})", flush=True)
    result = {"command": current_command(), "threads": torch.get_num_threads(), "versions": package_versions(),
              "rows": rows, "jobs": jobs}
    out.mkdir(parents=True, exist_ok=True)
    (out / ("results-jobs.json" if args.skip_sizes else "results.json")).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
