"""``merge``: single-task networks into one multitask network, with any registered method (``methods.MERGERS``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

from torch import nn

from ..data import DatasetSplits
from ..errors import PamkitError
from ..network.architecture import task_head
from ..network.multitask import MultitaskNet
from ..tasks import TaskSuite
from ..train import SingleTaskRecord, TrainedTask
from ..train.run import source_digests
from .methods import MERGERS, get_merger
from .options import MergeOptions
from .sources import Sources, load_sources

METHODS = tuple(MERGERS)  # the built-in methods, in the order reports list them (MERGERS holds any added later)
REGROUPING_FILE = "regrouping.json"  # beside a PAM merge: each neuron's group and its MI with each task


def options_for(method: str, given: dict[str, Any], flag: Callable[[str], str] = str) -> MergeOptions:
    """MergeOptions from the settings ``given`` explicitly; one that ``method`` does not use is refused, not ignored.

    ``flag`` names a setting in the error (the CLI passes ``--relative-alpha`` for ``relative_alpha``).
    """
    merger = get_merger(method)
    for name in given:
        if name not in merger.uses:
            users = [other for other, cls in MERGERS.items() if name in cls.uses]
            raise PamkitError(
                f"{flag(name)} does not apply to --method {method}: it is used by {', '.join(users)} only; leave it out"
            )
    if method == "pam" and given.get("zip_groups") is False:
        for name in ("zip_fraction", "finetune_epochs", "lr"):
            if name in given:
                raise PamkitError(
                    f"{flag(name)} applies to PAM only when it zips its label groups, which "
                    f"{flag('no_zip_groups')} turns off; leave one of them out"
                )
    return MergeOptions(**given)


def merge_modules(
    modules: Mapping[str, nn.Module],
    suite: TaskSuite,
    data: DatasetSplits,
    method: str = "pam",
    options: MergeOptions = MergeOptions(),
    progress: bool = True,
) -> MultitaskNet:
    """Merge networks held in memory, ``{task name: module}`` for tasks of ``suite``, trained on ``data``.

    The Python way in for modules already in hand (no checkpoints): each module is one task's
    network of one architecture, ending in its task head (``pamkit.network.task_head``) with the
    task's outputs. Returned in eval mode; it names no source checkpoints; save it with ``save_multitask``.
    """
    tasks = [suite.task(name) for name in modules]
    nets = []
    for task, (name, module) in zip(tasks, modules.items(), strict=True):
        head = cast(nn.Linear, module.get_submodule(task_head(module)))
        if head.out_features != task.num_outputs:
            raise PamkitError(
                f"the network for task {name!r} has {head.out_features} outputs but the task has "
                f"{task.num_outputs}; pass each task's own network"
            )
        kind = type(module)
        record = SingleTaskRecord(f"{kind.__module__}:{kind.__qualname__}", {}, task, data.input_spec)
        nets.append(TrainedTask(module.eval(), record, Path(f"<{name} in memory>")))
    net, _ = merge(nets, method, data, options, progress)
    del net.structure.provenance["sources"], net.structure.provenance["sources_sha256"]  # nothing on disk to name
    return net.eval()


def merge(
    nets: list[TrainedTask] | Sources,
    method: str,
    data: DatasetSplits | None,
    options: MergeOptions = MergeOptions(),
    progress: bool = True,
) -> tuple[MultitaskNet, dict[str, Any]]:
    """Merge single-task networks (one per task, same architecture) with ``method``; returns network and report.

    ``nets`` may be already checked by ``load_sources``. The model records its sources' checkpoints
    (absolute here; ``save_multitask`` writes them relative to the model file).
    """
    merger = get_merger(method)
    sources = nets if isinstance(nets, Sources) else load_sources(nets)
    if merger.needs_data and data is None:
        raise PamkitError(
            f"merge method {method!r} needs data (held-out inputs and, for fine-tuning, training "
            "data); pass the dataset the networks were trained on"
        )
    paths = [Path(item.path) for item in sources.nets]
    provenance = {
        "method": method,
        "options": asdict(options),
        "sources": [str(path.resolve()) for path in paths],
        "sources_sha256": source_digests(paths) if all(path.is_file() for path in paths) else None,
        "data_options": sources.nets[0].record.provenance.get("data_options", {}),  # the split, for every stage
    }
    return merger.merge(sources, cast(DatasetSplits, data), options, provenance, progress)
