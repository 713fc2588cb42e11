"""Bad input to `pamkit cost` (and `pamkit eval` of multitask models): models, baselines, crafted sidecars."""

from __future__ import annotations

from pathlib import Path

from pamkit.network import load_multitask, save_multitask

from .case import Case
from .cases_prune import none_folder, sources
from .cases_train import copied, written
from .workspace import Workspace


def _odd_only(case_dir: Path, ws: Workspace) -> None:
    """A model of task odd alone (the workspace models have odd and high)."""
    net, _ = load_multitask(ws.none_model)
    save_multitask(case_dir / "odd", net.extract(["odd"]))


def _structure(change) -> tuple[str, object]:
    return "model.json", lambda sidecar: change(sidecar["structure"])


CASES = [
    Case("cost-baseline-other-tasks", ("cost", "{none_model}", "--baseline", "{case}/odd.json"), "differ",
         setup=_odd_only),
    Case("cost-baseline-other-tasks-json", ("cost", "{none_model}", "--baseline", "{case}/odd.json", "--json"),
         "compare models of the same tasks", setup=_odd_only),
    Case("cost-layers-unknown-combination", ("cost", "{none_model}", "--layers", "--combinations", "odd+prime"),
         "unknown task 'prime'"),
    Case("cost-baseline-missing", ("cost", "{none_model}", "--baseline", "{case}/base.json"), "not found"),
    Case("cost-single-task-model", ("cost", "{run}/high.json"), "not a 'multitask'"),
    Case("cost-user-folder", ("cost", "{user_dir}"), "without model.json"),
    Case("cost-run-folder", ("cost", "{run}"), "merge it first"),
    Case("cost-user-file", ("cost", "{user_file}"), "not found"),
    Case("cost-pickle", ("cost", "{case}/model.ckpt"), "pickle", setup=written("model.ckpt", b"\x80\x02}q\x00.")),
    Case("cost-no-structure", ("cost", "{case}/none"), "no 'structure'",
         setup=copied(none_folder, "none", ("model.json", lambda sidecar: sidecar.pop("structure")))),
    Case("cost-structure-malformed", ("cost", "{case}/none"), "malformed",
         setup=copied(none_folder, "none", _structure(lambda s: s.__setitem__("groups", {"1": 5})))),
    Case("cost-structure-unknown-task", ("cost", "{case}/none"), "malformed",
         setup=copied(none_folder, "none", _structure(lambda s: s.__setitem__("heads", ["odd", "prime"])))),
    Case("cost-weights-escape", ("cost", "{case}/none"), "outside its folder",
         setup=copied(none_folder, "none", ("model.json", lambda sidecar: sidecar.__setitem__(
             "weights", "../../none/model.safetensors")))),
    Case("cost-weights-of-another-model", ("cost", "{case}/none"), "checksum",
         setup=lambda case_dir, ws: (copied(none_folder, "none")(case_dir, ws),
                                     (case_dir / "none" / "model.safetensors").write_bytes(
                                         (ws.mtz_model.parent / "model.safetensors").read_bytes()))),
    Case("cost-sources-absolute", ("cost", "{case}/none"), "absolute path",
         setup=copied(none_folder, "none", sources(lambda old: [str(Path("/tmp") / p) for p in old]))),
    Case("cost-sidecar-infinity", ("cost", "{case}/model.json"), "non-finite",
         setup=written("model.json", '{"format": "pamkit", "format_version": Infinity}')),
    Case("eval-model-not-json", ("eval", "{case}/model.json", "--json"), "not valid JSON",
         setup=written("model.json", "not json")),
]
