"""CLI verbs of the merge stage: ``pamkit merge`` and ``pamkit inspect``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..card import read_card
from ..cost import cost_report, format_table, space_layers, structure_summary
from ..errors import PamkitError
from ..io import read_json, write_json
from ..network import MODEL_STEM, Structure, load_multitask, model_file, save_multitask
from ..outputs import staged_output
from ..tasks import combination_label
from ..train import data_like, load_run
from ..values import NONNEGATIVE, NONNEGATIVE_INT, POSITIVE_INT, SEED, number_arg
from .api import REGROUPING_FILE, merge, options_for
from .methods import MERGERS
from .options import MergeOptions
from .sources import load_sources

_DATA_FLAGS = ("data", "limit")  # every method but none reads data


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``merge`` and ``inspect``."""
    p = verbs.add_parser(
        "merge",
        help="merge single-task networks into one multitask network",
        description="Merge one single-task network per task (same architecture) into one multitask "
        "network. pam: pruning-aware merging (groups neurons by task relevance); mtz: "
        "Multi-Task Zipping; shared: one shared trunk, trained jointly; none: the "
        "networks side by side. Writes DIR/model.safetensors + model.json (and "
        "regrouping.json for pam) and prints the cost of every task combination.",
    )
    p.add_argument("models", nargs="+", help="run directory from `pamkit train`, or checkpoint .json files")
    p.add_argument("--method", choices=list(MERGERS), default="pam", help="default: %(default)s")
    p.add_argument(
        "--out",
        required=True,
        help="output directory (new or empty; a merge written before is replaced only with --overwrite)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace the merge in --out (only a folder `pamkit merge` wrote)"
    )
    p.add_argument(
        "--data", metavar="DIR", help="directory holding the dataset files (default: search as `pamkit datasets` shows)"
    )
    p.add_argument("--limit", type=POSITIVE_INT, help="at most LIMIT samples per split (fast runs)")
    d = MergeOptions()  # method options default to None here: only those given are checked against the method
    p.add_argument(
        "--samples",
        type=number_arg(low=2, integer=True),
        help=f"pam, mtz: held-out inputs for PAM's relevance and MTZ's Hessians (default: {d.samples})",
    )
    p.add_argument(
        "--grouping",
        choices=("paper", "lattice"),
        help="pam: paper = shared + one private group per task; lattice = one group per task subset "
        f"(default: {d.grouping})",
    )
    p.add_argument(
        "--alpha",
        type=NONNEGATIVE,
        help="pam: absolute mutual-information threshold (default: "
        "calibrated per layer and task as relative-alpha x the layer's MI)",
    )
    p.add_argument("--relative-alpha", type=NONNEGATIVE, help="pam: the calibration factor")
    p.add_argument(
        "--zip-groups",
        action=argparse.BooleanOptionalAction,
        help="pam: inside each label group, merge the different networks' channels that carry the same "
        "information (MTZ's pair cost and merged weights), so a group starts about one network wide; "
        "--no-zip-groups builds the paper's plain PAM, every network's channels side by side in their group "
        "(default: zip)",
    )
    p.add_argument(
        "--zip-fraction",
        type=number_arg(low=0, low_open=True, high=1),
        help=f"mtz, pam: share of neurons paired per layer (per label group for pam) (default: {d.zip_fraction} "
        "= full zip)",
    )
    p.add_argument(
        "--finetune-epochs",
        type=NONNEGATIVE_INT,
        help="mtz, pam (zipped groups): epochs after each layer; shared: joint training epochs "
        f"(default: {d.finetune_epochs})",
    )
    p.add_argument("--seed", type=SEED, help=f"pam, mtz, shared (default: {d.seed})")
    p.set_defaults(run=run_merge)

    i = verbs.add_parser(
        "inspect",
        help="show a multitask network's groups (and why each neuron is where)",
        description="Print each layer's neuron groups. With --neurons, also each neuron's origin, "
        "group and mutual information with every task (from PAM's regrouping.json).",
    )
    i.add_argument("model", help="model written by `pamkit merge` or `pamkit prune` (its folder or model.json)")
    i.add_argument(
        "--neurons",
        action="store_true",
        help="list every neuron: its origin, its group and (for a PAM "
        "merge, from regrouping.json) its mutual information with every task",
    )
    i.add_argument("--layer", help="only this layer (a name the group table prints)")
    i.set_defaults(run=run_inspect)


def run_merge(args: argparse.Namespace) -> int:
    options = options_for(args.method, _given(args, _method_options()), _flag)
    if args.method == "none" and _given(args, _DATA_FLAGS):
        raise PamkitError(
            f"{_flag(next(iter(_given(args, _DATA_FLAGS))))} does not apply to --method none: it reads "
            "no data; leave it out"
        )
    sources = load_sources(load_run(args.models if len(args.models) > 1 else args.models[0]))
    with staged_output(args.out, "merge", inputs=args.models, overwrite=args.overwrite) as folder:
        data = None if args.method == "none" else data_like(sources.nets[0].record, args.data, args.limit)
        net, report = merge(sources, args.method, data, options)
        save_multitask(folder / MODEL_STEM, net)
        if report:
            write_json(folder / REGROUPING_FILE, report)
    print(f"\n{args.method} merge of {', '.join(net.task_names)} written to {Path(args.out) / MODEL_STEM}.json\n")
    print("\n".join(structure_summary(net.structure)) + "\n")
    print(format_table(cost_report(net)))
    return 0


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    """The options among ``names`` given on the command line (their parser default is None; no flag: not given)."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _method_options() -> tuple[str, ...]:
    """Every option some registered merge method reads, once each (those with a flag are read from the CLI)."""
    return tuple(dict.fromkeys(name for cls in MERGERS.values() for name in cls.uses))


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def run_inspect(args: argparse.Namespace) -> int:
    net, _ = load_multitask(args.model)
    s = net.structure
    wanted = None if args.layer is None else _layer_space(s, args.layer)
    print("\n".join(read_card(args.model).lines()) + "\n")
    rows = zip(space_layers(s), structure_summary(s), strict=True)
    print("\n".join(line for space, line in rows if wanted in (None, space)))
    if args.neurons:
        report = _pam_report(model_file(args.model).parent / REGROUPING_FILE)
        print("\n".join(_pam_neurons(report, wanted) if report else _neurons(s, wanted)))
    return 0


def _layer_space(s: Structure, name: str) -> int:
    """The space ``--layer`` names: a layer the group table prints (or any other op of that space)."""
    rows = space_layers(s)
    spaces = {op.name: op.space for op in s.ops if op.space in rows}
    spaces.update({layer: space for space, layer in rows.items()})
    if name not in spaces:
        raise PamkitError(
            f"--layer {name!r} is not a layer of this network; use one the table prints: {', '.join(rows.values())}"
        )
    return spaces[name]


def _pam_report(path: Path) -> dict[str, Any] | None:
    """PAM's regrouping report beside the model (per space: layer, alpha, layer MI, neurons), None for others."""
    if not path.is_file():
        return None
    report = read_json(path, "re-run `pamkit merge` to re-create it")
    pam = isinstance(report, dict) and all(isinstance(space, dict) and "neurons" in space for space in report.values())
    return report if pam and report else None


def _pam_neurons(report: dict[str, Any], wanted: int | None) -> list[str]:
    """Each neuron's origin, group and mutual information with each task, from PAM's report."""
    lines = []
    try:
        for space, entry in report.items():
            if wanted not in (None, int(space)):
                continue
            lines.append(
                f"\n{entry['layer']}: alpha {[round(a, 4) for a in entry['alpha']]}, layer MI "
                f"{[round(m, 4) for m in entry['layer_mi']]}"
            )
            lines += [
                f"  {n['origin']:<12} {combination_label(n['tasks']) or '(dropped)':<16} MI {n['mi']}"
                for n in entry["neurons"]
            ]
    except (KeyError, TypeError, ValueError) as exc:
        raise PamkitError(
            f"{REGROUPING_FILE} beside the model is malformed ({exc!r}); re-run `pamkit merge` to re-create it"
        ) from None
    return lines


def _neurons(s: Structure, wanted: int | None) -> list[str]:
    """Each neuron's origin and group, from the structure (merges other than PAM record no MI)."""
    lines = []
    for space, layer in space_layers(s).items():
        if wanted in (None, space):
            lines.append(f"\n{layer}:")
            lines += [
                f"  {origin:<16} {combination_label(s.task_names[t] for t in g.label)}"
                for g in s.groups[space]
                for origin in g.origins
            ]
    return lines
