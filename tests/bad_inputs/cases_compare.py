"""Bad input to ``compare`` and ``demo``: methods, numbers, options that do not apply, folders not theirs."""

from __future__ import annotations

import json

from .case import Case
from .cases_tasks import writes

COMPARE = ("compare", "--suite", "digits", "--arch", "lenet5")


def owned(folder: str, writer: str, complete: bool):
    """A setup: ``folder`` in the case's folder, written (and finished or not) by ``pamkit writer``."""
    return writes(f"{folder}/.pamkit-output.json", json.dumps({"writer": writer, "complete": complete}))


def compare_case(case_id: str, options: tuple[str, ...], expect: str, out: str = "{case}/cmp", **kwargs) -> Case:
    return Case(case_id, (*COMPARE, *options, "--out", out), expect, **kwargs)


def demo_case(case_id: str, options: tuple[str, ...], expect: str, out: str = "{case}/demo", **kwargs) -> Case:
    return Case(case_id, ("demo", *options, "--out", out), expect, **kwargs)


CASES = [
    compare_case("compare-unknown-method", ("--methods", "none,zip"), "unknown methods ['zip']; choose from"),
    compare_case("compare-method-twice", ("--methods", "pam,none,pam"), "methods ['pam'] are listed twice"),
    compare_case("compare-no-methods", ("--methods", " , "), "unknown methods (none given)"),
    compare_case("compare-tolerance-nan", ("--tolerance", "nan"), "--tolerance: 'nan' is not a finite number"),
    compare_case("compare-tolerance-above-one", ("--tolerance", "1.5"), "--tolerance: 1.5 is out of range"),
    compare_case("compare-step-inf", ("--step", "inf"), "--step: 'inf' is not a finite number"),
    compare_case("compare-step-zero", ("--step", "0"), "--step: 0 is out of range: it must be above 0"),
    compare_case("compare-lr-negative", ("--lr", "-0.1"), "--lr: -0.1 is out of range"),
    compare_case("compare-epochs-zero", ("--epochs", "0"), "--epochs: 0 is out of range: it must be at least 1"),
    compare_case("compare-batch-size-float", ("--batch-size", "32.5"), "--batch-size: '32.5' is not an integer"),
    compare_case("compare-seed-negative", ("--seed", "-1"), "--seed: -1 is out of range"),
    compare_case("compare-seeds-empty", ("--seeds", " , "), "--seeds: ' , ' names no seed"),
    compare_case("compare-seeds-not-integer", ("--seeds", "0,1.5"), "--seeds: seed '1.5' is not an integer"),
    compare_case("compare-seeds-negative", ("--seeds", "0,-2"), "--seeds: seed -2 is out of range"),
    compare_case("compare-seeds-too-large", ("--seeds", "0,2147483648"), "--seeds: seed 2147483648 is out of range"),
    compare_case("compare-seeds-twice", ("--seeds", "1,0,1"), "--seeds: seeds [1] are listed twice"),
    compare_case("compare-finetune-samples-nan", ("--finetune-samples", "nan"), "--finetune-samples: 'nan'"),
    compare_case("compare-finetune-samples-below-batch", ("--finetune-samples", "10"), "below one batch"),
    compare_case("compare-finetune-epochs-without-mtz-shared-pam", ("--methods", "none", "--finetune-epochs", "3"),
                 "--finetune-epochs applies to the methods mtz, shared and pam"),
    compare_case("compare-grouping-without-pam", ("--methods", "none,mtz", "--grouping", "lattice"),
                 "--grouping applies to pam, which --methods none,mtz leaves out"),
    compare_case("compare-unknown-grouping", ("--grouping", "tree"), "invalid choice: 'tree'"),
    compare_case("compare-no-oracle-three-tasks", ("--no-oracle",), "--no-oracle applies to two-task suites only"),
    compare_case("compare-resume-and-overwrite", ("--resume", "--overwrite"), "not allowed with argument"),
    compare_case("compare-unknown-arch", ("--arch", "alexnet"), "unknown architecture 'alexnet'"),
    Case("compare-arch-arg-inf", ("compare", "--suite", "digits-paper", "--arch", "vgg", "--arch-arg", "width=.inf",
                                  "--out", "{case}/cmp"), "vgg width must be a finite number > 0, got inf"),
    compare_case("compare-arch-arg-unknown", ("--arch-arg", "depth=3"), "lenet5 does not take the option(s) depth"),
    compare_case("compare-out-user-folder", (), "already holds files pamkit did not write", out="{user_dir}"),
    compare_case("compare-out-user-file", (), "is a file, not a folder", out="{user_file}"),
    compare_case("compare-out-under-a-file", (), "which is a file; choose a path under a folder",
                 out="{user_file}/cmp"),
    compare_case("compare-out-unfinished-compare", (), "pass --resume to continue it or --overwrite",
                 setup=owned("cmp", "compare", complete=False)),
    compare_case("compare-out-finished-compare", (), "a finished `pamkit compare` output; pass --resume to extend "
                 "it (its finished stages are reused) or --overwrite", setup=owned("cmp", "compare", complete=True)),
    compare_case("compare-out-demo-folder", ("--overwrite",), "already holds `pamkit demo` output; pamkit never "
                 "replaces it", setup=owned("cmp", "demo", complete=True)),
    compare_case("compare-overwrite-export-folder", ("--overwrite",), "already holds `pamkit export` output",
                 setup=owned("cmp", "export", complete=True)),
    # Where the jobs run: only options that apply to the executor chosen.
    compare_case("compare-executor-unknown", ("--executor", "slurm"), "unknown executor 'slurm'; use one of"),
    compare_case("compare-executor-address-not-ray", ("--executor", "local:head:6379"), "only ray takes an address"),
    compare_case("compare-jobs-with-ray-cluster", ("--executor", "ray:auto", "--jobs", "2"),
                 "--jobs sizes a local Ray instance; the cluster at auto has its own size"),
    compare_case("compare-jobs-with-inline", ("--executor", "inline", "--jobs", "2"), "inline runs one job at a time"),
    compare_case("compare-jobs-zero", ("--jobs", "0"), "--jobs: 0 is out of range"),
    compare_case("compare-retries-negative", ("--retries", "-1"), "--retries: -1 is out of range"),
    # The demo runs compare inside its own folder, under the same ownership rule.
    demo_case("demo-out-user-folder", ("--overwrite",), "already holds files pamkit did not write",
              out="{user_dir}"),
    demo_case("demo-out-finished-demo", (), "a finished `pamkit demo` output; pass --overwrite",
              setup=owned("demo", "demo", complete=True)),
    demo_case("demo-out-unfinished-demo", (), "pass --resume to continue it",
              setup=owned("demo", "demo", complete=False)),
    demo_case("demo-out-compare-folder", ("--resume",), "already holds `pamkit compare` output",
              setup=owned("demo", "compare", complete=False)),
    demo_case("demo-out-training-run", ("--overwrite",), "already holds", out="{run}"),
    demo_case("demo-epochs-zero", ("--epochs", "0"), "--epochs: 0 is out of range"),
    demo_case("demo-limit-negative", ("--limit", "-5"), "--limit: -5 is out of range"),
]
