"""The test plays the app: it reads only manifest.json and the artifacts, preprocesses raw dataset files itself
with numpy, picks entry points by the documented rule and must answer as pamkit's eager network does."""

import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import torch

from pamkit.errors import DataError, PamkitError
from pamkit.export import select_entry

CASES = Path(__file__).parent / "selection_cases.json"


# -- the app: numpy and the runtimes only, everything else from the manifest ----------------------------------
def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format): a 4-byte magic whose last byte is the rank, then big-endian sizes, then bytes."""
    data = path.read_bytes()
    rank = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(shape)


def resize_bilinear(image: np.ndarray, size: int) -> np.ndarray:
    """Half-pixel bilinear resampling (align_corners false, source coordinates clamped at 0), upsampling only."""
    def axis(n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = np.maximum((np.arange(size) + 0.5) * n_in / size - 0.5, 0)
        low = np.floor(src).astype(int)
        return low, np.minimum(low + 1, n_in - 1), (src - low).astype(np.float32)
    (r0, r1, wr), (c0, c1, wc) = axis(image.shape[0]), axis(image.shape[1])
    rows = image[r0] * (1 - wr)[:, None] + image[r1] * wr[:, None]
    return rows[:, c0] * (1 - wc) + rows[:, c1] * wc


def preprocess(pixels: np.ndarray, manifest: dict) -> np.ndarray:
    """One source image [H, W] to the input tensor [1, C, S, S], step by step as the manifest says."""
    x = pixels.astype(np.float32)
    for step in manifest["input"]["preprocessing"]["steps"]:
        if step["op"] == "scale":
            x = x / np.float32(step["divide_by"])
        elif step["op"] == "resize":
            assert step["method"] == "bilinear" and not step["align_corners"] and not step["antialias"]
            x = resize_bilinear(x, step["size"][0])
        elif step["op"] == "normalize":
            x = (x - np.float32(step["mean"])) / np.float32(step["std"])
        else:
            raise AssertionError(f"unknown preprocessing step {step}")
    return np.ascontiguousarray(x.reshape(manifest["input"]["shape"]), dtype=np.float32)  # runtimes want C order


def select(manifest: dict, tasks: list[str]) -> dict:
    """The entry-point rule, as an app implements it from the manifest (README: the exact one, else the cheapest)."""
    if not tasks or any(t not in [task["name"] for task in manifest["tasks"]] for t in tasks):
        raise LookupError("unknown task or none")
    exact = [c for c in manifest["combinations"] if set(c["tasks"]) == set(tasks)]
    covering = [c for c in manifest["combinations"] if set(tasks) <= set(c["tasks"])]
    if not exact and not covering:
        raise LookupError("not covered")
    return exact[0] if exact else min(covering, key=lambda c: (c["macs"], len(c["tasks"]), c["entry"]))


def decode(task: dict, values: np.ndarray) -> object:
    """A task's answer from its raw outputs (one image): a label, or the labels that are present."""
    assert task["output_kind"] == "logits"
    if task["decision"]["rule"] == "argmax":
        return task["labels"][int(np.argmax(values))]
    return [label for label, v in zip(task["labels"], values, strict=True) if v > task["decision"]["threshold"]]


def run_tflite(path: Path, manifest: dict):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))

    def run(entry: dict, x: np.ndarray) -> dict[str, np.ndarray]:
        result = interpreter.get_signature_runner(entry["entry"])(**{manifest["input"]["name"]: x})
        return {name: result[name][0] for name in entry["outputs"]}
    return run


def run_executorch(path: Path, manifest: dict):
    from executorch.runtime import Runtime

    program = Runtime.get().load_program(str(path))

    def run(entry: dict, x: np.ndarray) -> dict[str, np.ndarray]:  # ExecuTorch's Python API takes torch tensors
        outputs = program.load_method(entry["entry"]).execute([torch.from_numpy(x)])
        return {name: out.numpy()[0] for name, out in zip(entry["outputs"], outputs, strict=True)}
    return run


# -- the tests ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", json.loads(CASES.read_text())["cases"], ids=lambda c: "+".join(c["tasks"]) or "none")
def test_select_entry_answers_the_shared_selection_cases(case):
    manifest = json.loads(CASES.read_text())["manifest"]
    if "error" in case:
        message = {"unknown_task": "unknown task", "no_tasks": "no tasks requested",
                   "not_covered": "no entry point runs all of"}[case["error"]]
        with pytest.raises(PamkitError, match=message):
            select_entry(manifest, case["tasks"])
        with pytest.raises(LookupError):
            select(manifest, case["tasks"])
    else:
        for rule in (select_entry, select):
            chosen = rule(manifest, case["tasks"])
            assert (chosen["entry"], chosen["outputs"]) == (case["entry"], case["outputs"])


@pytest.mark.slow
def test_an_app_reading_only_the_manifest_answers_as_pamkit_does(tmp_path):
    from pamkit.cli import main
    from pamkit.data import load_dataset, locate_idx_files
    from pamkit.network import load_multitask

    try:
        files = locate_idx_files("mnist", download=False).files
    except DataError as exc:
        pytest.skip(f"MNIST is not installed here ({exc}); `make setup` installs it")
    # size 32: the app must upsample MNIST's 28 px as pamkit does
    assert main(["train", "--suite", "mnist4", "--tasks", "digit,odd,high", "--arch", "lenet5", "--size", "32",
                 "--epochs", "1", "--limit", "2000", "--out", str(tmp_path / "run")]) == 0
    assert main(["merge", str(tmp_path / "run"), "--method", "pam", "--limit", "2000",
                 "--out", str(tmp_path / "merged")]) == 0
    assert main(["export", str(tmp_path / "merged"), "--formats", "executorch,tflite", "--parity-samples", "4",
                 "--combinations", "digit,odd,high,digit+odd,digit+odd+high", "--out", str(tmp_path / "export")]) == 0

    export = tmp_path / "export"
    manifest = json.loads((export / "manifest.json").read_text())
    raw = read_idx(files["t10k-images-idx3-ubyte"])[:24]
    inputs = [preprocess(image, manifest) for image in raw]
    runners = {item["format"]: {"executorch": run_executorch, "tflite": run_tflite}[item["format"]](
        export / item["path"], manifest) for item in manifest["files"]}
    tasks = {task["name"]: task for task in manifest["tasks"]}

    net, _ = load_multitask(tmp_path / "merged")  # the eager side: pamkit's own preprocessing and network
    eager_images = load_dataset("mnist", size=32).test.images[:24]  # the test split is the t10k file, in order
    assert np.allclose(np.concatenate(inputs), eager_images.numpy(), atol=1e-5)
    names = [t["name"] for t in manifest["tasks"]]
    for size in range(1, len(names) + 1):
        for wanted in map(list, combinations(names, size)):
            entry = select(manifest, wanted)
            assert entry == select_entry(manifest, wanted)
            with torch.no_grad():
                eager = net.extract(entry["tasks"])(eager_images)
            for fmt, run in runners.items():
                for i, x in enumerate(inputs):
                    outputs = run(entry, x)
                    for name in wanted:
                        task = tasks[name]
                        got = decode(task, outputs[task["output"]])
                        expected = decode(task, eager[name][i].numpy())
                        assert got == expected, f"{fmt} {entry['entry']} image {i} task {name}"
    assert {c["entry"] for c in manifest["combinations"]} == {"digit", "odd", "high", "digit__odd", "digit__odd__high"}
    assert select(manifest, ["odd", "high"])["entry"] == "digit__odd__high"  # not exported: the one covering it
    digit = tasks["digit"]
    assert digit["covers"] == [[str(d)] for d in range(10)] and digit["decision"]["rule"] == "argmax"
    assert tasks["odd"]["covers"] == [["1", "3", "5", "7", "9"]] and tasks["odd"]["decision"]["threshold"] == 0.0
