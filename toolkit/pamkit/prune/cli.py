"""CLI verb of the prune stage: ``pamkit prune``."""

from __future__ import annotations

import argparse
from typing import Any

from ..cost import all_combinations, combination_weights, cost_report, format_table, structure_summary
from ..errors import CheckpointError, PamkitError
from ..network import load_multitask, model_file
from ..outputs import add_resumable_output_arguments, check_output_dir, resumable_output
from ..tasks.combination import SEPARATOR
from ..train import data_like, recorded_sources
from ..values import FRACTION, NONNEGATIVE_INT, POSITIVE, POSITIVE_INT, SEED, check_number, number_arg
from .api import PruneOptions, prune, prune_separately, reference_scores, save_pruned
from .importance import CRITERIA
from .recipes import RECIPES, Distill, Recipe, get_recipe
from .state import PROGRESS_DIR, Checkpoints


class NothingPruned(PamkitError):
    """The prune removed nothing: not bad input, but not a result either (exit status 1)."""

    exit_code = 1


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``prune``."""
    d = PruneOptions()
    p = verbs.add_parser(
        "prune",
        help="structured pruning of a multitask network under an accuracy tolerance",
        description="Gradual structured pruning: each step removes the least important channel memberships "
        "(a share --step of the expected MACs), then a short fine-tune lets the network recover; the fine-tuning "
        "recipe distils from the single-task networks by default (--recipe). With --target-macs it prunes to "
        "that cost, fine-tunes fully and reports the scores reached. Otherwise it prunes past the "
        "--tolerance boundary keeping every step's network, fully fine-tunes the candidates near the boundary "
        "(the cheapest first, then bisection) and keeps the cheapest within the tolerance of every task's "
        "single-task network (validation split). Writes DIR/model.safetensors + model.json and DIR/pruning.json "
        "(every step and the trajectory: each point's MACs per combination and validation and test scores), and "
        "prints the cost of every combination before and after. A model merged with --method none is pruned one "
        "task at a time (the no-merging baseline). An interrupted prune continues with --resume: from the last "
        "step or fine-tuned candidate, skipping tasks that finished.",
    )
    p.add_argument("model", help="multitask model written by `pamkit merge` (its folder or model.json)")
    add_resumable_output_arguments(
        p,
        "output directory (new or empty, or one this command wrote: see --resume and --overwrite)",
        "continue an interrupted prune in --out with the same options",
        "replace a prune this command wrote into --out",
        required=True,
    )
    p.add_argument(
        "--allow-no-change",
        action="store_true",
        help="write the model even when nothing could be "
        "removed (otherwise that ends with exit status 1 and nothing written)",
    )
    p.add_argument(
        "--criterion",
        choices=CRITERIA,
        default=d.criterion,
        help="channel importance: taylor (gate gradient, Molchanov et al. 2019) or magnitude (L2 norm "
        "of the filters) (default: %(default)s)",
    )
    p.add_argument(
        "--recipe",
        choices=RECIPES,
        default=d.finetuning.name,
        help="fine-tuning: distill (each task's head also learns its single-task network's outputs) or labels "
        "(the sum of the tasks' losses) (default: %(default)s)",
    )
    p.add_argument(
        "--distill-weight",
        type=FRACTION,
        help=f"--recipe distill: the distillation term's share of each task's loss (default: {Distill.weight})",
    )
    p.add_argument(
        "--temperature",
        type=POSITIVE,
        help=f"--recipe distill: softmax temperature for multiclass tasks (default: {Distill.temperature})",
    )
    p.add_argument(
        "--tolerance",
        type=number_arg(low=0, high=1),
        default=d.tolerance,
        help="largest allowed drop of any task's score, as a fraction (default: %(default)s = 1 point); with "
        "--target-macs only reported",
    )
    p.add_argument(
        "--target-macs",
        type=POSITIVE,
        metavar="MACS",
        help="prune to this expected cost instead: MACs (e.g. 150000), or a fraction of the start's (e.g. 0.3)",
    )
    p.add_argument(
        "--step",
        type=number_arg(low=0, low_open=True, high=1),
        default=d.step,
        help="share of the expected MACs (channels with --no-cost-aware) removed per step (default: %(default)s)",
    )
    p.add_argument(
        "--explore-past",
        type=FRACTION,
        default=d.explore_past,
        help="tolerance mode: steps go on until a task is this far below its limit after its short fine-tune, "
        "then candidates are fully fine-tuned (default: %(default)s = 5 points)",
    )
    p.add_argument(
        "--fine-step",
        type=number_arg(low=0, low_open=True, high=1),
        default=d.fine_step,
        help="tolerance mode: the step once one step has ended outside the tolerance (finer points near the "
        "boundary; default: %(default)s)",
    )
    p.add_argument(
        "--search-window",
        type=NONNEGATIVE_INT,
        default=d.search_window,
        help="tolerance mode: candidates also fully fine-tuned past the first one outside the tolerance, so one "
        "noisy validation score does not end the search (default: %(default)s)",
    )
    p.add_argument(
        "--backoff-drop",
        type=number_arg(low=0, low_open=True, high=1),
        default=d.backoff_drop,
        help="tolerance mode: a step from the boundary (every task at most this below its limit) that leaves a task "
        "more than this below both the point before and its limit is a cliff: it is undone, its most damaging "
        "move (measured alone) banned, and the step planned again (default: %(default)s = 1 point)",
    )
    p.add_argument(
        "--max-backoffs",
        type=NONNEGATIVE_INT,
        default=d.max_backoffs,
        help="tolerance mode: back off a cliff at most this many times a step, 0 for never (default: %(default)s; "
        "without it one move a network cannot relearn decides where a prune ends)",
    )
    p.add_argument(
        "--confirmations",
        type=NONNEGATIVE_INT,
        default=d.confirmations,
        help="tolerance mode: a point that ends the exploration (a task --explore-past below its limit after its "
        "short fine-tune) first gets the full final fine-tune; if that brings it back, pruning goes on from it. At "
        "most this many times a prune, 0 for never (default: %(default)s)",
    )
    p.add_argument(
        "--hold",
        action="store_true",
        help="tolerance mode: a task outside its limit gives up no channel while another task is within, so the "
        "others are pruned on towards their own boundaries (default: off; measured within seed noise, "
        "benchmarks/relatedness/hold/)",
    )
    p.add_argument(
        "--retire",
        action="store_true",
        help="tolerance mode: a task whose exploration ends (--explore-past below its limit) while another's goes "
        "on is retired: pruning goes back to the cheapest point within the tolerance after its final fine-tune and "
        "prunes the other tasks on from there, holding it, so that each task ends at its own boundary as when "
        "pruned alone (default: off)",
    )
    p.add_argument(
        "--sequential",
        action="store_true",
        help="tolerance mode: prune one task at a time, in task order, holding the others (each task keeps its "
        "memberships, other tasks may still leave its shared channels), then retire it as --retire does and prune "
        "the next; each task is pruned to its own boundary with the whole network's fine-tune behind it "
        "(default: off)",
    )
    p.add_argument(
        "--max-candidates",
        type=POSITIVE_INT,
        default=d.max_candidates,
        help="tolerance mode: at most this many candidates get the full final fine-tune (default: %(default)s)",
    )
    p.add_argument(
        "--final-epochs",
        type=NONNEGATIVE_INT,
        default=d.final_epochs,
        help="epochs of the full final fine-tune of each candidate, over the whole training split (default: "
        "%(default)s)",
    )
    p.add_argument(
        "--max-steps",
        type=POSITIVE_INT,
        default=d.max_iterations,
        help="at most this many pruning steps (default: %(default)s)",
    )
    p.add_argument(
        "--lr",
        type=POSITIVE,
        default=d.lr,
        help="fine-tuning learning rate at the start of each round, cosine to 0 (default: %(default)s)",
    )
    p.add_argument("--batch-size", type=POSITIVE_INT, default=d.batch_size, help="(default: %(default)s)")
    p.add_argument(
        "--finetune-samples",
        type=NONNEGATIVE_INT,
        default=d.finetune_samples,
        help="training images per step's short fine-tune (default: %(default)s; 0 = the whole split)",
    )
    p.add_argument(
        "--no-cost-aware",
        action="store_true",
        help="rank by importance alone, not importance per MAC a channel costs the combinations that run it",
    )
    p.add_argument(
        "--combination-weights",
        metavar="SPEC",
        help="how often each combination runs, for cost-aware "
        "ranking: 'a+b=3,a=1' (unlisted combinations: 0; default: all equally often)",
    )
    p.add_argument(
        "--jointly",
        action="store_true",
        help="prune a --method none model as one network instead of one task at a time",
    )
    p.add_argument(
        "--reference",
        metavar="SPEC",
        help="each task's single-task validation score in [0, 1], "
        "'a=0.97,b=0.98' (default: measured on the source networks recorded in the model)",
    )
    p.add_argument("--data", metavar="DIR", help="directory holding the dataset files")
    p.add_argument("--limit", type=POSITIVE_INT, help="at most LIMIT samples per split (fast, rough runs)")
    p.add_argument("--seed", type=SEED, default=d.seed)
    p.set_defaults(run=run_prune)


def run_prune(args: argparse.Namespace) -> int:
    net, record = load_multitask(args.model)
    options = PruneOptions(
        criterion=args.criterion,
        recipe=recipe_of(args),
        tolerance=args.tolerance,
        target_macs=args.target_macs,
        step=args.step,
        explore_past=args.explore_past,
        fine_step=args.fine_step,
        search_window=args.search_window,
        backoff_drop=args.backoff_drop,
        max_backoffs=args.max_backoffs,
        confirmations=args.confirmations,
        hold=args.hold,
        retire=args.retire,
        sequential=args.sequential,
        max_candidates=args.max_candidates,
        final_epochs=args.final_epochs,
        max_iterations=args.max_steps,
        lr=args.lr,
        batch_size=args.batch_size,
        finetune_samples=args.finetune_samples or None,
        cost_aware=not args.no_cost_aware,
        combination_weights=parse_combination_weights(args.combination_weights),
        seed=args.seed,
    )
    combination_weights(all_combinations(net.task_names), options.combination_weights)  # names known tasks?
    method = net.structure.provenance.get("method")
    if options.target_macs is not None and options.target_macs > 1 and method == "none" and not args.jointly:
        raise PamkitError(
            f"--target-macs {options.target_macs:g} is an absolute cost, but a --method none model is pruned one "
            "task at a time; give a fraction of the start (e.g. 0.3) or add --jointly"
        )
    if args.jointly and method != "none":
        raise PamkitError(
            f"--jointly applies only to a model merged with --method none; this is a {method} merge, "
            "which is always pruned as one network: leave --jointly out"
        )
    given_reference = parse_reference(args.reference, net.task_names) if args.reference else None
    sources = recorded_sources(net.structure.provenance)
    if not sources:
        raise CheckpointError(
            f"the source checkpoints recorded in {args.model} are missing "
            f"({net.structure.provenance.get('sources')}); pruning loads its data like them: keep "
            "the training run where it was when the model was merged"
        )
    settings = {
        "model": str(model_file(args.model).resolve()),
        "weights_sha256": record["weights_sha256"],
        "options": options.to_dict(),
        "reference": given_reference,
        "jointly": args.jointly,
        "limit": args.limit,
    }
    output = {"inputs": [args.model], "overwrite": args.overwrite, "resume": args.resume, "meta": settings}
    check_output_dir(args.out, "prune", resumable=True, **output)  # before the data is loaded
    data = data_like(sources[0].record, args.data, args.limit)
    reference = given_reference or reference_scores(sources, data.val)
    with resumable_output(args.out, "prune", **output) as (out, resuming):
        checkpoints = Checkpoints(out / PROGRESS_DIR, resuming)
        teachers = {item.record.task.name: item.net for item in sources}
        if method == "none" and not args.jointly:
            result = prune_separately(net, data, reference, options, checkpoints=checkpoints, teachers=teachers)
        else:
            result = prune(net, data, reference, options, checkpoint=checkpoints.named("joint"), teachers=teachers)
        if cost_report(result.net) == cost_report(net) and not args.allow_no_change:
            checkpoints.clear()
            raise NothingPruned(
                f"the prune removed nothing ({result.stop_reason}); nothing was written: loosen "
                "--tolerance or check --reference, or pass --allow-no-change to write the unchanged "
                "model"
            )
        path = save_pruned(out, result, options)
        checkpoints.clear()
    print(f"\npruned model written to {path} ({result.stop_reason})")
    print(
        "validation scores: "
        + ", ".join(f"{name} {score:.4f} (single-task {reference[name]:.4f})" for name, score in result.val.items())
    )
    finals = [point for point in result.trajectory if point["phase"] == "final"]
    test = {name: score for point in finals for name, score in point["test"].items()}
    print("test scores: " + ", ".join(f"{name} {score:.4f}" for name, score in test.items()) + "\n")
    print("\n".join(structure_summary(result.net.structure)) + "\n")
    print(format_table(cost_report(result.net), cost_report(net)))
    return 0


def recipe_of(args: argparse.Namespace) -> Recipe:
    """The fine-tuning recipe the flags ask for; a setting of another recipe is refused, not ignored."""
    config = {
        key: value
        for key, value in (("weight", args.distill_weight), ("temperature", args.temperature))
        if value is not None
    }
    if config and args.recipe != "distill":
        flags = " and ".join("--distill-weight" if key == "weight" else "--temperature" for key in config)
        raise PamkitError(f"{flags} apply only to --recipe distill, not {args.recipe}; drop them or use distill")
    return get_recipe(args.recipe, **config)


def parse_combination_weights(spec: str | None) -> dict[tuple[str, ...], float] | None:
    """``'a+b=3,a=1'`` -> ``{('a', 'b'): 3.0, ('a',): 1.0}`` (checked against the network later)."""
    if not spec:
        return None
    return {tuple(combo.split(SEPARATOR)): weight for combo, weight in _pairs(spec, "--combination-weights").items()}


def parse_reference(spec: str, tasks: tuple[str, ...]) -> dict[str, float]:
    """``'a=0.97,b=0.98'`` -> scores in [0, 1], exactly one for each of the network's ``tasks``."""
    scores = _pairs(spec, "--reference")
    unknown = [name for name in scores if name not in tasks]
    missing = [name for name in tasks if name not in scores]
    if unknown or missing:
        problem = f"names unknown task {unknown[0]!r}" if unknown else f"lacks task {missing[0]!r}"
        raise PamkitError(f"--reference {problem}; give one score for each of the model's tasks: {', '.join(tasks)}")
    for name, score in scores.items():
        check_number(f"--reference {name} (a score, a fraction of correct answers)", score, low=0, high=1)
    return scores


def _pairs(spec: str, flag: str) -> dict[str, Any]:
    """``'a=1,b=2'`` -> ``{'a': 1.0, 'b': 2.0}``; a malformed item or a repeated name is an error naming ``flag``."""
    out: dict[str, Any] = {}
    for item in spec.split(","):
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not name or number is None:
            raise PamkitError(f"{flag}: cannot read {item!r} in {spec!r}; write NAME=NUMBER pairs separated by commas")
        if name in out:
            raise PamkitError(f"{flag} gives {name} twice; give each once")
        out[name] = number
    return out
