"""The iOS side as far as this machine allows: every Swift file of ios_export/ and every generated one parses with
tree-sitter's Swift grammar (no Swift toolchain exists for Debian 12; types are not checked), the generated file
types the export's tasks and entry points, and `pamkit app-assets --app ios` gathers what Xcode needs."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pamkit.export import load_manifest
from pamkit.export.app_assets import AppAssetsOptions, write_app_assets
from pamkit.export.swift import case_names, identifier, swift_source

ROOT = Path(__file__).parents[1]
CHECKER = ROOT / "ios_export/scripts/check-swift.cjs"
GRAMMAR = ROOT / "scripts/app-tools/node_modules/tree-sitter-wasms/out/tree-sitter-swift.wasm"
needs_checker = pytest.mark.skipif(
    shutil.which("node") is None or not GRAMMAR.is_file(),
    reason="node or the tree-sitter Swift grammar is missing: `make setup` installs scripts/app-tools",
)


def check_swift(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["node", str(CHECKER), *map(str, files)], capture_output=True, text=True)


@needs_checker
def test_every_swift_file_of_the_package_parses():
    files = sorted(ROOT.glob("ios_export/**/*.swift"))
    assert len(files) >= 8, files  # Package.swift, the sources, the adapter, the tests, the example app
    result = check_swift(*files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(f"{len(files)} passed, 0 failed")


@needs_checker
def test_the_checker_fails_on_a_syntax_error(tmp_path):
    good, bad = tmp_path / "Good.swift", tmp_path / "Bad.swift"
    good.write_text("#if canImport(CoreML)\nimport CoreML\n#endif\nlet x = 1\n")
    bad.write_text("public struct Model {\n    func run( {\n}\n")
    result = check_swift(good, bad)
    assert result.returncode == 1 and "Bad.swift:2:" in result.stdout and "1 passed, 1 failed" in result.stdout


@needs_checker
def test_export_writes_a_typed_swift_file_that_parses(app_export):
    manifest = load_manifest(app_export)
    assert manifest["swift"] == {"path": "PamkitModel.swift", "type": "PamkitModel"}
    source = (app_export / "PamkitModel.swift").read_text()
    assert "public struct PamkitModel {" in source
    assert '        case digit = "digit"' in source and '        [.odd, .high]: "odd__high",' in source
    for combination in manifest["combinations"]:
        assert f'"{combination["entry"]}": {json.dumps(combination["outputs"])},' in source
    assert check_swift(app_export / "PamkitModel.swift").returncode == 0


@needs_checker
def test_awkward_task_names_still_make_valid_swift(tmp_path):
    manifest = json.loads((ROOT / "tests/app_fixtures/manifests/three_tasks.json").read_text())
    names = ["default", "long-sleeve", "3d", "long_sleeve"]  # a keyword, a dash, a digit first, a clash
    manifest["tasks"] = [dict(manifest["tasks"][0], name=n, output=n.replace("-", "_")) for n in names]
    manifest["tasks"][0]["labels"] = ['quote " and \\ backslash', "tab\there"]
    manifest["tasks"][0]["covers"] = [["0"], ["1"]]
    manifest["combinations"] = [{"tasks": names, "entry": "all", "outputs": [t["output"] for t in manifest["tasks"]]}]
    manifest["default_combination"] = "all"
    path = tmp_path / "Odd.swift"
    path.write_text(swift_source(manifest, "Odd"))
    result = check_swift(path)
    assert result.returncode == 0, result.stdout + path.read_text()
    assert case_names(names) == {"default": "`default`", "long-sleeve": "longSleeve", "3d": "t3d", "long_sleeve": "longSleeve3"}
    assert "[.default, .longSleeve, .t3d, .longSleeve3]" in path.read_text()


def test_identifiers():
    assert identifier("category") == "category"
    assert identifier("long-sleeve") == "longSleeve"
    assert identifier("Ankle boot") == "ankleBoot"
    assert identifier("class") == "`class`"
    assert identifier("7up") == "t7up"


def test_ios_assets_hold_core_ml_executorch_and_the_swift_file(app_export, tmp_path):
    manifest = write_app_assets(app_export, tmp_path / "ios", AppAssetsOptions(app="ios", samples=2))
    formats = sorted({f["format"] for f in manifest["files"]})
    assert formats == ["coreml", "executorch"]
    legacy = [f for f in manifest["files"] if f["path"].startswith("coreml-ios15/")]
    assert len(legacy) == len(manifest["combinations"])  # one plain package per combination, for iOS 15 to 17
    assert (tmp_path / "ios" / "model.mlpackage").is_dir() and (tmp_path / "ios" / "PamkitModel.swift").is_file()
    assert not list((tmp_path / "ios").glob("*.tflite"))
    assert load_manifest(tmp_path / "ios")["swift"]["type"] == "PamkitModel"  # and every checksum holds
