"""Write app_cases.json: what pamkit's own code answers for fixed inputs, for the Android and iOS sides to match.

Each section comes from the function the app side reimplements: preprocessing from
``pamkit.data.prepare_images`` (the manifest's ``input`` from ``pamkit.export.input_section``), decoding from
``Task.predict`` (the manifest's task from ``pamkit.export.task_section``), latency statistics from
``pamkit.bench.stats`` and the energy estimate from ``pamkit.bench.energy``. tests/test_app_fixtures.py checks
that the committed file is what this script writes today.

    .venv/bin/python tests/app_fixtures/generate.py   # rewrites tests/app_fixtures/app_cases.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pamkit.bench.energy import estimate_energy
from pamkit.bench.stats import spread_warning, summarize
from pamkit.data import InputSpec, dataset_info, prepare_images
from pamkit.export import input_section, task_section
from pamkit.tasks import get_suite

OUT = Path(__file__).with_name("app_cases.json")

# (case name, dataset, input size, normalised): no resize, upsampling, antialiased shrinking, a 0..16 pixel range
PREPROCESSING = (
    ("fashion-28-normalized", "fashion-mnist", 28, True),
    ("mnist-28-to-32-normalized", "mnist", 32, True),
    ("composite-56-to-24-antialiased", "composite", 24, False),
    ("digits-8-to-16-range-16", "digits", 16, False),
)
# (suite, task): one task of each kind and encoding
DECODING = (("mnist4", "digit"), ("mnist4", "odd"), ("domains", "a"), ("digits-paper", "a"), ("fashion4", "category"))


def preprocessing_cases(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for name, dataset, size, normalized in PREPROCESSING:
        info = dataset_info(dataset)
        spec = InputSpec(dataset, info.channels, size, info.mean if normalized else None, info.std if normalized else None)
        n = info.native_size
        pixels = rng.integers(0, int(info.max_value) + 1, size=(n, n))
        pixels[: n // 2, : n // 2] = np.arange(n // 2)[None, :] * int(info.max_value) // (n // 2)  # a smooth corner
        expected = prepare_images(pixels[None].astype(np.float32), info.max_value, size, spec)
        cases.append(
            {
                "name": name,
                "input": input_section(spec, info),
                "width": n,
                "height": n,
                "pixels": pixels.reshape(-1).tolist(),
                "expected": [float(v) for v in expected.reshape(-1).tolist()],
            }
        )
    return cases


def decoding_cases(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for suite_name, task_name in DECODING:
        suite = get_suite(suite_name)
        task = suite.task(task_name)
        section = task_section(task, dataset_info(suite.dataset), None)
        width = task.num_outputs
        rows = [rng.normal(size=width).astype(np.float32) for _ in range(4)]
        rows.append(np.zeros(width, dtype=np.float32))  # all equal: argmax takes the first; 0 is not above 0
        if width > 1:
            tie = rng.normal(size=width).astype(np.float32)
            tie[-1] = tie[0] = tie.max() + 1
            rows.append(tie)
        for values in rows:
            predicted = task.predict(torch.from_numpy(values)[None])[0]
            if task.kind == "multiclass":
                answer: dict[str, Any] = {"label": task.output_names[int(predicted)]}
            else:
                answer = {"present": [n for n, on in zip(task.output_names, predicted.tolist(), strict=True) if on > 0]}
            cases.append({"suite": suite_name, "task": section, "values": values.tolist(), "answer": answer})
    return cases


def latency_cases(rng: np.random.Generator) -> list[dict[str, Any]]:
    samples = [
        [4.0, 2.0, 3.0],
        rng.normal(10, 0.3, size=21).round(4).tolist(),
        rng.lognormal(1.0, 0.6, size=40).round(4).tolist(),
    ]
    return [{"samples_ms": s, "stats": summarize(s), "warning": spread_warning(summarize(s))} for s in samples]


def energy_cases() -> list[dict[str, Any]]:
    cases = []
    for macs, params, activation, precision in ((416_000, 61_706, 18_816, "float32"), (44_349, 3_210, 4_704, "int8")):
        joules = estimate_energy(macs, 4 * params, activation, precision)["joules"]
        cases.append({"macs": macs, "params": params, "activation_bytes": activation, "precision": precision, "joules": joules})
    return cases


def cases() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {
        "about": "What pamkit's Python code answers for fixed inputs; the Android (android_demo/core) and iOS sides must "
        "answer the same. Written by tests/app_fixtures/generate.py, checked by tests/test_app_fixtures.py. "
        "Weight bytes in the energy cases are 4 * params, as `pamkit bench` counts them.",
        "preprocessing": preprocessing_cases(rng),
        "decoding": decoding_cases(rng),
        "latency": latency_cases(rng),
        "energy": energy_cases(),
    }


def write(path: Path = OUT) -> None:
    path.write_text(json.dumps(cases(), indent=1) + "\n")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(f"wrote {OUT if len(sys.argv) < 2 else sys.argv[1]}")
