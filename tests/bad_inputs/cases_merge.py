"""Bad input to `pamkit merge` and `pamkit inspect`: sources, options of other methods, output folders, reports."""

from __future__ import annotations

import json
from pathlib import Path

from pamkit.data import InputSpec
from pamkit.models import build_single_task
from pamkit.train import SingleTaskRecord, load_single_task, save_single_task

from .case import Case
from .cases_train import Setup, copied, written
from .workspace import Workspace


def other_network(arch: str, size: int, **kwargs: object) -> Setup:
    """A setup saving an untrained checkpoint for task 'odd' of another architecture or input into ``{case}``."""
    def setup(case_dir: Path, ws: Workspace) -> None:
        _, record = load_single_task(ws.run / "odd.json")
        spec = InputSpec(record.input_spec.dataset, 1, size, record.input_spec.mean, record.input_spec.std)
        net = build_single_task(arch, 1, size, record.task.num_outputs, **kwargs)
        save_single_task(case_dir / "odd", net, SingleTaskRecord(arch, kwargs, record.task, spec))
    return setup


def none_folder(ws: Workspace) -> Path:
    return ws.none_model.parent


def _pam_report(neuron: dict[str, object]) -> Setup:
    """A copy of the none merge with a PAM regrouping report of one neuron beside it."""
    def setup(case_dir: Path, ws: Workspace) -> None:
        copied(none_folder, "merged")(case_dir, ws)
        report = {"1": {"layer": "backbone_conv1", "probes": ["backbone_relu1"], "alpha": [0.1, 0.1],
                        "layer_mi": [1.0, 1.0], "neurons": [neuron]}}
        written("merged/regrouping.json", json.dumps(report))(case_dir, ws)
    return setup


def merge(*extra: str, out: str = "{case}/merged", method: str = "none") -> tuple[str, ...]:
    return ("merge", "{run}", "--method", method, *extra, "--out", out)


CASES = [
    # sources: two or more single-task networks of one architecture and input
    Case("merge-one-network", ("merge", "{run}/odd.json", "--method", "none", "--out", "{case}/m"), "at least two"),
    Case("merge-same-network-twice", ("merge", "{run}/odd.json", "{run}/odd.json", "--method", "none", "--out",
                                      "{case}/m"), "repeat"),
    Case("merge-mixed-architectures", ("merge", "{case}/odd.json", "{run}/high.json", "--method", "none", "--out",
                                       "{case}/m"), "share one architecture",
         setup=other_network("vgg", 16, width=0.125)),
    Case("merge-mixed-input-sizes", ("merge", "{case}/odd.json", "{run}/high.json", "--method", "none", "--out",
                                     "{case}/m"), "expects input", setup=other_network("lenet5", 20)),
    Case("merge-multitask-as-source", ("merge", "{none_model}", "{mtz_model}", "--method", "none", "--out",
                                       "{case}/m"), "not a 'single-task'"),
    Case("merge-source-missing", ("merge", "{run}/odd.json", "{case}/high.json", "--out", "{case}/m"), "not found"),
    # options of another method are refused, not ignored
    Case("merge-none-with-alpha", merge("--alpha", "0.1"), "--alpha does not apply"),
    Case("merge-none-with-samples", merge("--samples", "64"), "--samples does not apply"),
    Case("merge-none-with-limit", merge("--limit", "100"), "--limit does not apply"),
    Case("merge-none-with-seed", merge("--seed", "3"), "--seed does not apply"),
    Case("merge-plain-pam-with-zip-fraction", merge("--no-zip-groups", "--zip-fraction", "0.5", method="pam"),
         "--zip-fraction applies to PAM only when it zips its label groups, which --no-zip-groups turns off"),
    Case("merge-plain-pam-with-finetune-epochs", merge("--no-zip-groups", "--finetune-epochs", "2", method="pam"),
         "--finetune-epochs applies to PAM only when it zips"),
    Case("merge-mtz-with-zip-groups", merge("--no-zip-groups", method="mtz"), "--zip-groups does not apply"),
    Case("merge-mtz-with-grouping", merge("--grouping", "lattice", method="mtz"), "--grouping does not apply"),
    Case("merge-shared-with-relative-alpha", merge("--relative-alpha", "0.1", method="shared"), "--relative-alpha"),
    # numbers
    Case("merge-alpha-negative", merge("--alpha", "-0.5", method="pam"), "--alpha"),
    Case("merge-alpha-nan", merge("--alpha", "nan", method="pam"), "not a finite"),
    Case("merge-relative-alpha-infinite", merge("--relative-alpha", "inf", method="pam"), "not a finite"),
    Case("merge-alpha-and-relative-alpha", merge("--alpha", "0.1", "--relative-alpha", "0.02", method="pam"),
         "exclude each other"),
    Case("merge-samples-one", merge("--samples", "1", method="pam"), "--samples"),
    Case("merge-samples-more-than-data", merge("--samples", "5000", "--limit", "400", method="pam"),
         "fewer than samples"),
    Case("merge-zip-fraction-zero", merge("--zip-fraction", "0", method="mtz"), "--zip-fraction"),
    Case("merge-zip-fraction-above-one", merge("--zip-fraction", "1.5", method="mtz"), "--zip-fraction"),
    Case("merge-finetune-epochs-negative", merge("--finetune-epochs", "-1", method="shared"), "--finetune-epochs"),
    Case("merge-unknown-method", merge(method="average"), "invalid choice"),
    # output folders
    Case("merge-out-run-folder", merge(out="{run}"), "folder of the input"),
    Case("merge-out-above-run", merge(out="{run}/.."), "folder of the input"),
    Case("merge-out-user-folder", merge(out="{user_dir}"), "did not write"),
    Case("merge-overwrite-user-folder", merge("--overwrite", out="{user_dir}"), "did not write"),
    Case("merge-out-is-file", merge(out="{user_file}"), "is a file"),
    Case("merge-out-under-file", merge(out="{user_file}/merged"), "which is a file"),
    Case("merge-out-finished-merge", merge(out="{none_model}/.."), "pass --overwrite"),
    Case("merge-out-unwritable", merge(out="/proc/pamkit-merge"), "/proc/pamkit-merge"),
    # inspect
    Case("inspect-unknown-layer", ("inspect", "{mtz_model}", "--layer", "conv9"), "not a layer"),
    Case("inspect-report-not-json", ("inspect", "{case}/merged", "--neurons"), "not valid JSON",
         setup=lambda case_dir, ws: (copied(none_folder, "merged")(case_dir, ws),
                                     written("merged/regrouping.json", "{\"1\": ")(case_dir, ws))),
    Case("inspect-report-malformed", ("inspect", "{case}/merged", "--neurons"), "malformed",
         setup=_pam_report({"origin": "odd:0", "tasks": 7, "mi": [0.5]})),
    Case("inspect-run-folder", ("inspect", "{run}"), "training run"),
    Case("inspect-user-folder", ("inspect", "{user_dir}"), "without model.json"),
    Case("inspect-single-task", ("inspect", "{run}/odd.json"), "not a 'multitask'"),
]
