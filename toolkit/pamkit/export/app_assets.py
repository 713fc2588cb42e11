"""Fill an app's assets from an export: the artifacts its runtimes load, the manifest, and sample images.

The app side (android_demo/) reads ``manifest.json`` to pick entry points, loads the artifacts it names and
offers ``samples/`` to run them on. Samples are test-split images at the source size with their raw pixel
values, so the app preprocesses them exactly as it would a camera frame of that size; ``samples.json`` gives
each one's true answer per task, read from the manifest's ``covers``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data import dataset_info, load_dataset
from ..errors import PamkitError
from ..io import write_json
from ..outputs import staged_output
from .manifest import MANIFEST, artifact_path, load_manifest, validate_manifest

WRITER = "app-assets"
SAMPLES_FILE = "samples.json"


@dataclass(frozen=True)
class AppSide:
    """What one app side takes from an export: the formats its runtimes load, and whether the typed Swift file."""

    formats: tuple[str, ...]
    swift: bool = False


# android_demo: ExecuTorch's Module and LiteRT's Interpreter; ios_export: Core ML functions (and the legacy
# per-combination packages) and ExecuTorch, with the generated Swift file.
APPS: dict[str, AppSide] = {
    "android": AppSide(("executorch", "executorch-int8", "tflite", "tflite-int8")),
    "ios": AppSide(("coreml", "executorch", "executorch-int8"), swift=True),
}
MAX_SAMPLES = 100


@dataclass(frozen=True)
class AppAssetsOptions:
    """Which app the assets are for, how many sample images to add, and where the dataset lies."""

    app: str = "android"
    samples: int = 8
    data: str | None = None
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.app not in APPS:
            raise PamkitError(f"unknown app {self.app!r}; choose one of {', '.join(APPS)}")
        if not 0 <= self.samples <= MAX_SAMPLES:
            raise PamkitError(f"--samples must be 0 to {MAX_SAMPLES}, got {self.samples}; a few images are enough")


def write_app_assets(export_dir: str | Path, out: str | Path, options: AppAssetsOptions) -> dict[str, Any]:
    """Copy the app's artifacts and the manifest (listing only those) into ``out``, with sample images.

    Everything is checked (the export's checksums, the dataset) before ``out`` is written, atomically.
    Returns the manifest as written.
    """
    manifest = load_manifest(export_dir)
    side = APPS[options.app]
    files = [item for item in manifest["files"] if item["format"] in side.formats]
    if not files:
        raise PamkitError(
            f"{export_dir} has no artifact an {options.app} app runs ({', '.join(side.formats)}); re-run "
            f"`pamkit export --formats {','.join(f for f in side.formats if 'int8' not in f)}`"
        )
    swift = manifest.get("swift") if side.swift else None
    if side.swift and (swift is None or not (Path(export_dir) / swift["path"]).is_file()):
        raise PamkitError(f"{export_dir} has no generated Swift file: re-run `pamkit export` with this pamkit")
    app_manifest = {k: v for k, v in manifest.items() if k != "swift" or swift}
    app_manifest |= {"files": files, "app_assets": {"app": options.app, "export": str(export_dir)}}
    validate_manifest(app_manifest)
    samples = sample_images(manifest, options.samples, options.data)
    with staged_output(out, WRITER, inputs=[export_dir], overwrite=options.overwrite) as tmp:
        for item in files:
            source = artifact_path(export_dir, item)
            target = tmp / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():  # an .mlpackage
                shutil.copytree(source, target)
            else:
                shutil.copy2(source, target)
        write_json(tmp / MANIFEST, app_manifest, indent=2)
        if swift:
            shutil.copy2(Path(export_dir) / swift["path"], tmp / swift["path"])
        if samples:
            write_samples(tmp, manifest, samples)
    return app_manifest


def sample_images(manifest: dict[str, Any], count: int, data: str | None) -> list[tuple[np.ndarray, list[str]]]:
    """The first ``count`` test images at the source size, raw pixels, each with the dataset names it shows."""
    if count == 0:
        return []
    name = manifest["input"]["dataset"]
    info = dataset_info(name)
    split = load_dataset(name, path=data, normalize=False, limit=max(count, 16), download=False).test
    pixels = np.rint(split.images[:count, 0].numpy() * info.max_value).astype(np.uint8)
    shown = [
        [info.class_names[int(label)]]
        if split.labels.ndim == 1
        else [n for n, on in zip(info.class_names, label.tolist(), strict=True) if on]
        for label in split.labels[:count]
    ]
    return list(zip(pixels, shown, strict=True))


def truth(task: dict[str, Any], shown: list[str]) -> str | list[str] | None:
    """A task's true answer for an image showing ``shown``: its label (multiclass), or the labels that are on."""
    on = [label for label, covers in zip(task["labels"], task["covers"], strict=True) if set(covers) & set(shown)]
    if task["kind"] == "multiclass":
        return on[0] if on else None
    return on


def write_samples(folder: Path, manifest: dict[str, Any], samples: list[tuple[np.ndarray, list[str]]]) -> None:
    """``samples/NN.png`` (8-bit gray, raw pixel values) and ``samples.json`` with each image's true answers."""
    from PIL import Image

    (folder / "samples").mkdir()
    items = []
    for i, (pixels, shown) in enumerate(samples):
        file = f"samples/{i:02d}.png"
        Image.fromarray(pixels).save(folder / file)
        items.append({"file": file, "shows": shown, "truth": {t["name"]: truth(t, shown) for t in manifest["tasks"]}})
    source = manifest["input"]["preprocessing"]["source"]
    write_json(
        folder / SAMPLES_FILE,
        {
            "about": "Test-split images at the source size; each pixel holds its raw value in pixel_range, so run "
            "them through the manifest's preprocessing like any image of that size. truth: each task's answer.",
            "dataset": manifest["input"]["dataset"],
            "split": "test",
            "pixel_range": source["pixel_range"],
            "samples": items,
        },
        indent=2,
    )
