"""CLI verb of the prune stage: ``pamkit prune``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cost import cost_report, format_table, structure_summary
from ..errors import CheckpointError, PamkitError
from ..network import load_multitask
from ..train import data_like, recorded_sources
from .api import PruneOptions, prune, prune_separately, reference_scores, save_pruned
from .importance import CRITERIA


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``prune``."""
    d = PruneOptions()
    p = verbs.add_parser("prune", help="structured pruning of a multitask network under an accuracy tolerance",
                         description="Iteratively remove the least important channels of every group, fine-tuning "
                                     "on the sum of the tasks' losses in between, as long as every task stays within "
                                     "the tolerance of its single-task network (measured on the validation split). "
                                     "Writes DIR/model.safetensors + model.json and DIR/pruning.json (every "
                                     "iteration), and prints the cost of every combination before and after. A model "
                                     "merged with --method none is pruned one task at a time (the no-merging "
                                     "baseline).")
    p.add_argument("model", help="multitask model .json written by `pamkit merge`")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--criterion", choices=CRITERIA, default=d.criterion,
                   help="channel importance: taylor (gate gradient, Molchanov et al. 2019) or magnitude (L2 norm "
                        "of the filters) (default: %(default)s)")
    p.add_argument("--tolerance", type=float, default=d.tolerance,
                   help="largest allowed drop of any task's score, as a fraction (default: %(default)s = 1 point)")
    p.add_argument("--step", type=float, default=d.step, help="share of the channels removed per iteration; halved "
                   "whenever a step breaks the tolerance (default: %(default)s)")
    p.add_argument("--patience", type=int, default=d.patience, help="stop after this many rejected steps in a row "
                   "(default: %(default)s)")
    p.add_argument("--lr", type=float, default=d.lr, help="fine-tuning learning rate (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="(default: %(default)s)")
    p.add_argument("--finetune-samples", type=int, default=d.finetune_samples,
                   help="training images per fine-tuning round (default: %(default)s; 0 = the whole split)")
    p.add_argument("--no-cost-aware", action="store_true", help="rank by importance alone, not importance per MAC "
                   "a channel costs the combinations that run it")
    p.add_argument("--combination-weights", metavar="SPEC", help="how often each combination runs, for cost-aware "
                   "ranking: 'a+b=3,a=1' (unlisted combinations: 0; default: all equally often)")
    p.add_argument("--jointly", action="store_true", help="prune a --method none model as one network instead of "
                   "one task at a time")
    p.add_argument("--reference", metavar="SPEC", help="each task's single-task validation score, 'a=0.97,b=0.98' "
                   "(default: measured on the source networks recorded in the model)")
    p.add_argument("--data", metavar="DIR", help="directory holding the dataset files")
    p.add_argument("--limit", type=int, help="at most LIMIT samples per split (fast, rough runs)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.set_defaults(run=run_prune)


def run_prune(args: argparse.Namespace) -> int:
    net, _ = load_multitask(args.model)
    options = PruneOptions(criterion=args.criterion, tolerance=args.tolerance, step=args.step, patience=args.patience,
                           lr=args.lr, batch_size=args.batch_size, finetune_samples=args.finetune_samples or None,
                           cost_aware=not args.no_cost_aware,
                           combination_weights=parse_combination_weights(args.combination_weights),
                           seed=args.seed)
    sources = recorded_sources(net.structure.provenance)
    if not sources:
        raise CheckpointError(f"the source checkpoints recorded in {args.model} are missing "
                              f"({net.structure.provenance.get('sources')}); pruning loads its data like them")
    data = data_like(sources[0].record, args.data, args.limit)
    reference = _parse_scores(args.reference) if args.reference else reference_scores(sources, data.val)
    separately = net.structure.provenance.get("method") == "none" and not args.jointly
    result = (prune_separately if separately else prune)(net, data, reference, options)
    path = save_pruned(Path(args.out), result, options)
    print(f"\npruned model written to {path} ({result.stop_reason})")
    print("validation scores: " + ", ".join(f"{name} {score:.4f} (single-task {reference[name]:.4f})"
                                            for name, score in result.val.items()) + "\n")
    print("\n".join(structure_summary(result.net.structure)) + "\n")
    print(format_table(cost_report(result.net), cost_report(net)))
    return 0


def parse_combination_weights(spec: str | None) -> dict[tuple[str, ...], float] | None:
    """``'a+b=3,a=1'`` -> ``{('a', 'b'): 3.0, ('a',): 1.0}``."""
    if not spec:
        return None
    return {tuple(combo.split("+")): weight for combo, weight in _parse_scores(spec).items()}


def _parse_scores(spec: str) -> dict[str, float]:
    out = {}
    for item in spec.split(","):
        name, _, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise PamkitError(f"cannot read {item!r} in {spec!r}; write NAME=NUMBER pairs separated by commas") from None
    return out
