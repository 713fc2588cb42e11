"""Verbs that describe what pamkit offers: ``pamkit suites``, ``pamkit archs``, ``pamkit datasets``."""

from __future__ import annotations

import argparse


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``suites``, ``archs`` and ``datasets``."""
    suites = verbs.add_parser(
        "suites",
        help="list the built-in task suites, print one as YAML, or check a suite file",
        description="Without NAME: list the built-in suites. With NAME: print its YAML, "
        "a template for your own suite file (pass it to --suite). With a "
        ".yaml/.toml file: check it as training would and list its tasks.",
    )
    suites.add_argument("name", nargs="?", help="built-in suite to print, or suite file to check")
    suites.set_defaults(run=run_suites)
    verbs.add_parser(
        "archs",
        help="list the architectures",
        description="List the architectures and their options (set them with --arch-arg KEY=VALUE).",
    ).set_defaults(run=run_archs)
    verbs.add_parser(
        "datasets",
        help="list the datasets and where each is found",
        description="List the datasets and where pamkit finds each, or how to install it.",
    ).set_defaults(run=run_datasets)


def run_suites(args: argparse.Namespace) -> int:
    from .tasks import builtin_suite_names, builtin_suite_text, get_suite

    if args.name in builtin_suite_names():
        print(builtin_suite_text(args.name), end="")
        return 0
    for suite in [get_suite(args.name)] if args.name else map(get_suite, builtin_suite_names()):
        tasks = ", ".join(f"{t.name} ({t.kind}, {t.num_outputs} out)" for t in suite.tasks)
        print(f"{suite.name:<14} {suite.dataset:<14} {suite.description}\n{'':<29} tasks: {tasks}")
    return 0


def run_archs(args: argparse.Namespace) -> int:
    from .examples import OWN_NETWORK
    from .models import ARCHITECTURES

    for spec in ARCHITECTURES.values():
        options = ", ".join(f"{k}={v!r}" for k, v in spec.defaults.items()) or "none"
        print(f"{spec.name:<13} {spec.description}\n{'':<14}min input {spec.min_size} px; options: {options}")
    print(
        f"{'your own':<13} any nn.Module class or factory, by import path: --arch package.module:Class (e.g.\n"
        f"{'':<14}{OWN_NETWORK}); constructor options by --arch-arg; its forward must end in an nn.Linear\n"
        f"{'':<14}(the task head); the module must be importable in every pamkit command (PYTHONPATH)"
    )
    return 0


def run_datasets(args: argparse.Namespace) -> int:
    from .data import dataset_info, dataset_names, locate_idx_files
    from .errors import DataError

    for name in dataset_names():
        info = dataset_info(name)
        try:
            found = [locate_idx_files(files, download=False).source for files in info.files]
            where = " + ".join(found) if found else "bundled with scikit-learn"
        except DataError as exc:
            where = f"NOT FOUND. {exc}"
        print(f"{name:<14} {len(info.class_names)} {info.label_kind}, {info.native_size} px: {where}")
    return 0
