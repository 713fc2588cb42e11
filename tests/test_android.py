"""`pamkit app-assets` and the Android app's packaging: the assets hold what the app loads, its samples are the
dataset's own pixels, and the app's manifest, resources and those assets pass Android's packaging tools."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pamkit.data import load_dataset, prepare_images
from pamkit.export import load_manifest
from pamkit.export.app_assets import AppAssetsOptions, write_app_assets

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def assets(app_export, tmp_path_factory):
    out = tmp_path_factory.mktemp("assets") / "pamkit"
    write_app_assets(app_export, out, AppAssetsOptions(samples=5))
    return out


def test_assets_hold_the_android_artifacts_and_a_manifest_that_verifies(assets, app_export):
    manifest = load_manifest(assets)  # checksums of every file it lists, against the copies
    assert sorted(f["format"] for f in manifest["files"]) == ["executorch", "tflite"]
    assert not any(p.suffix == ".mlpackage" for p in assets.iterdir())
    original = json.loads((app_export / "manifest.json").read_text())
    assert "coreml" in {f["format"] for f in original["files"]}
    assert manifest["combinations"] == original["combinations"] and manifest["tasks"] == original["tasks"]
    assert manifest["app_assets"] == {"app": "android", "export": str(app_export)}
    assert "swift" not in manifest and not list(assets.glob("*.swift"))  # the iOS side's file


def test_samples_are_the_datasets_pixels_with_their_true_answers(assets):
    samples = json.loads((assets / "samples.json").read_text())
    raw = load_dataset("digits", normalize=False, limit=16, download=False).test
    assert samples["pixel_range"] == [0, 16] and len(samples["samples"]) == 5
    manifest = json.loads((assets / "manifest.json").read_text())
    spec = load_dataset("digits", size=16, normalize=False, limit=16).input_spec
    for i, item in enumerate(samples["samples"]):
        pixels = np.asarray(Image.open(assets / item["file"]))
        assert pixels.shape == (8, 8) and pixels.max() <= 16
        assert np.array_equal(pixels, np.rint(raw.images[i, 0].numpy() * 16)), item["file"]
        digit = int(raw.labels[i])
        assert item["shows"] == [str(digit)]
        assert item["truth"]["digit"] == str(digit)
        assert item["truth"]["odd"] == (["odd"] if digit % 2 else [])
        # the app's path (the PNG through the manifest's steps) gives pamkit's own input tensor
        steps = [s["op"] for s in manifest["input"]["preprocessing"]["steps"]]
        assert steps == ["scale", "resize"]
        ours = prepare_images(pixels[None].astype(np.float32), 16, 16, spec)
        expected = load_dataset("digits", size=16, normalize=False, limit=16).test.images[i : i + 1]
        assert np.allclose(ours.numpy(), expected.numpy(), atol=1e-6)


def test_no_samples_needs_no_dataset(app_export, tmp_path):
    write_app_assets(app_export, tmp_path / "a", AppAssetsOptions(samples=0))
    assert not (tmp_path / "a" / "samples.json").exists() and (tmp_path / "a" / "model.pte").is_file()


def test_an_earlier_assets_folder_is_replaced_only_with_overwrite(app_export, tmp_path):
    from pamkit.errors import PamkitError

    write_app_assets(app_export, tmp_path / "a", AppAssetsOptions(samples=1))
    with pytest.raises(PamkitError, match="pass --overwrite"):
        write_app_assets(app_export, tmp_path / "a", AppAssetsOptions(samples=2))
    write_app_assets(app_export, tmp_path / "a", AppAssetsOptions(samples=2, overwrite=True))
    assert len(json.loads((tmp_path / "a" / "samples.json").read_text())["samples"]) == 2


@pytest.mark.skipif(shutil.which("aapt") is None, reason="aapt is not installed: `make setup` as root installs it")
def test_the_app_manifest_resources_and_assets_pass_androids_packaging_tools(assets, tmp_path):
    result = subprocess.run(["bash", str(ROOT / "android_demo/scripts/validate-apk.sh"), str(assets), str(tmp_path / "apk")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    badging = (tmp_path / "apk" / "badging.txt").read_text()
    assert "package: name='dev.pamkit.demo'" in badging
    assert "launchable-activity: name='dev.pamkit.demo.MainActivity'" in badging
    assert "sdkVersion:'26'" in badging
    contents = (tmp_path / "apk" / "contents.txt").read_text()
    for name in ("model.pte", "model.tflite"):  # runtimes memory-map them: stored, not deflated
        line = next(line for line in contents.splitlines() if line.endswith(f"assets/pamkit/{name}"))
        assert " Stored " in line, line
    assert "assets/pamkit/samples/04.png" in contents and "classes.dex" not in contents


@pytest.mark.skipif(shutil.which("aapt") is None, reason="aapt is not installed: `make setup` as root installs it")
def test_a_broken_app_manifest_is_refused_by_aapt(assets, tmp_path):
    app = tmp_path / "android_demo"
    shutil.copytree(ROOT / "android_demo", app, ignore=shutil.ignore_patterns("build", "*.kt"))
    manifest = app / "app/src/main/AndroidManifest.xml"
    manifest.write_text(manifest.read_text().replace("@string/app_name", "@string/no_such_string"))
    result = subprocess.run(["bash", str(app / "scripts/validate-apk.sh"), str(assets), str(tmp_path / "apk")],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "no_such_string" in result.stderr + result.stdout
