"""Export: one artifact per format, one entry point per combination, checked on the official runtimes."""

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch

from helpers import random_lattice, source_nets
from pamkit.cli import main
from pamkit.cost import combination_cost
from pamkit.errors import PamkitError
from pamkit.export import ExportOptions, Int8Refused, export, load_manifest, parse_combinations, validate_manifest
from pamkit.export.formats import CoreMLFormat, ExecuTorchFormat, TFLiteFormat
from pamkit.export.fusion import fuse_groups
from pamkit.network import multitask, save_multitask

ALL = ("digit", "odd", "high")


@pytest.fixture(scope="module")
def lattice():
    """A 3-task LeNet-5 whose neurons carry random task subsets: every kind of group, 7 combinations."""
    return random_lattice(source_nets("lenet5", 16), seed=3)


@pytest.fixture(scope="module")
def data(lattice, digits_data):
    """The digits, described like the lattice's input (unnormalised 16 px)."""
    return dataclasses.replace(digits_data, input_spec=lattice.structure.input_spec)


@pytest.fixture(scope="module")
def exported(lattice, data, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "all"
    manifest = export(lattice, data, out, ExportOptions(parity_samples=8), progress=False)
    return out, manifest


def test_combination_names_and_order(lattice):
    assert parse_combinations(lattice.task_names, "all") == [("digit",), ("odd",), ("high",), ("digit", "odd"),
                                                  ("digit", "high"), ("odd", "high"), ALL]
    assert parse_combinations(lattice.task_names, "high+digit, odd,digit+high") == [("digit", "high"), ("odd",)]
    with pytest.raises(PamkitError, match=r"unknown task 'even'.*digit, odd, high"):
        parse_combinations(lattice.task_names, "digit+even")
    with pytest.raises(PamkitError, match="empty task combination"):
        parse_combinations(lattice.task_names, "digit,,odd")


@pytest.mark.parametrize("arch, size, kwargs", [("lenet5", 16, {}), ("mobilenet_v2", 8, {"width": 0.25})])
def test_fusing_groups_keeps_outputs_and_stays_within_its_macs_budget(arch, size, kwargs):
    net = random_lattice(source_nets(arch, size, **kwargs), seed=3).eval()
    x = torch.randn(4, 1, size, size, generator=torch.Generator().manual_seed(1))
    fused_any = False
    for combo in parse_combinations(net.task_names, "all"):
        sub = net.extract(combo)
        grouped = combination_cost(sub, combo).macs
        counts = []
        for extra in (0.0, 0.2, 100.0):
            fused, spaces = fuse_groups(sub, extra)
            counts.append(spaces)
            assert combination_cost(fused, combo).macs <= grouped * (1 + extra)
            if spaces:
                assert len(fused.structure.groups[1]) == 1 < len(sub.structure.groups[1])
            with torch.no_grad():
                for task, value in fused(x).items():
                    torch.testing.assert_close(value, sub(x)[task], atol=1e-5, rtol=1e-4)
        assert counts == sorted(counts)  # a larger budget never fuses less
        fused_any |= counts[-1] > 0
    assert fused_any


@pytest.mark.slow
def test_every_entry_point_matches_pytorch_on_the_runtimes(exported, lattice):
    out, manifest = exported
    entries = [c["entry"] for c in manifest["combinations"]]
    assert entries == ["digit", "odd", "high", "digit__odd", "digit__high", "odd__high", "digit__odd__high"]
    x = torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(7))  # not an input export has seen
    with torch.no_grad():
        full = lattice(x)
    for fmt in (ExecuTorchFormat(), TFLiteFormat()):
        path = out / f"model{fmt.suffix}"
        assert sorted(fmt.signatures(path)) == sorted(entries)
        run = fmt.runner(path)
        for combo in manifest["combinations"]:
            got = run(combo["entry"], x.numpy(), tuple(combo["outputs"]))
            for task, value in zip(combo["tasks"], got, strict=True):
                np.testing.assert_allclose(value, full[task].numpy(), atol=1e-4, rtol=1e-3)
        result = manifest["validation"]["results"][fmt.name]
        assert result["status"] == "passed" and sorted(result["max_abs_error"]) == sorted(entries)
        assert max(result["max_abs_error"].values()) < 1e-4


@pytest.mark.slow
def test_fused_export_matches_pytorch_and_records_what_it_computes(lattice, data, tmp_path):
    options = ExportOptions(formats=("tflite",), parity_samples=4, fuse_extra_macs=100.0)
    manifest = export(lattice, data, tmp_path / "fused", options, progress=False)
    assert manifest["validation"]["results"]["tflite"]["status"] == "passed"
    for combo in manifest["combinations"]:
        grouped = combination_cost(lattice, tuple(combo["tasks"])).macs
        assert combo["fused_spaces"] > 0 and combo["macs"] >= grouped


@pytest.mark.slow
def test_entry_points_run_only_their_groups(exported, lattice):
    _, manifest = exported
    for combo in manifest["combinations"]:
        grouped = combination_cost(lattice, tuple(combo["tasks"]))
        params = sum(p.numel() for p in lattice.extract(combo["tasks"]).parameters())
        assert params == grouped.params
        assert (combo["params"], combo["macs"], combo["fused_spaces"]) == (grouped.params, grouped.macs, 0)
    by_entry = {c["entry"]: c for c in manifest["combinations"]}
    assert by_entry["digit"]["macs"] < by_entry["digit__odd"]["macs"] < by_entry["digit__odd__high"]["macs"]


@pytest.mark.slow
def test_coreml_package_lists_every_function_with_the_manifests_names(exported):
    import coremltools as ct

    out, manifest = exported
    signatures = CoreMLFormat().signatures(out / "model.mlpackage")
    assert sorted(signatures) == sorted(c["entry"] for c in manifest["combinations"])
    for combo in manifest["combinations"]:
        signature = signatures[combo["entry"]]
        assert signature.inputs == (("image", (1, 1, 16, 16)),)
        assert [name for name, _ in signature.outputs] == combo["outputs"]
    spec = ct.models.MLModel(str(out / "model.mlpackage"), skip_model_load=True).get_spec()
    assert spec.description.defaultFunctionName == manifest["default_combination"] == "digit__odd__high"
    coreml = manifest["validation"]["results"]["coreml"]
    if CoreMLFormat().cannot_run():
        assert coreml["status"] == "structure only" and "macOS" in coreml["reason"]


@pytest.mark.slow
def test_manifest_follows_its_schema_and_checksums(exported):
    out, manifest = exported
    assert load_manifest(out) == manifest  # schema and every file's sha256
    assert [t["name"] for t in manifest["tasks"]] == list(ALL)
    preprocessing = {  # the bundled digits: 8x8 pixels in 0..16, upsampled to 16 px, not normalised
        "source": {"size": [8, 8], "channels": 1, "channel_order": "gray", "pixel_range": [0, 16]},
        "steps": [{"op": "scale", "divide_by": 16, "to_range": [0.0, 1.0]},
                  {"op": "resize", "size": [16, 16], "method": "bilinear", "align_corners": False, "antialias": False}],
    }
    assert manifest["input"] == {"name": "image", "shape": [1, 1, 16, 16], "dtype": "float32", "layout": "NCHW",
                                 "dataset": "digits", "normalization": None, "preprocessing": preprocessing}
    assert {f["format"] for f in manifest["files"]} == {"executorch", "coreml", "tflite"}
    broken = json.loads(json.dumps(manifest))
    del broken["combinations"][0]["entry"]
    with pytest.raises(PamkitError, match=r"combinations/0.*'entry' is a required property"):
        validate_manifest(broken)
    assert not list(out.parent.glob(".all.partial-*"))


@pytest.mark.slow
def test_weights_are_stored_once(lattice, data, exported, tmp_path):
    _, manifest = exported
    alone = export(lattice, data, tmp_path / "alone", ExportOptions(formats=("executorch", "tflite"),
                                                                     combinations="digit+odd+high",
                                                                     parity_samples=1), progress=False)
    sizes = {f["format"]: f["size"] for f in manifest["files"]}
    weights = {c["entry"]: 4 * c["params"] for c in manifest["combinations"]}
    added = sum(weights.values()) - weights["digit__odd__high"]  # what 6 more entry points would hold as copies
    for item in alone["files"]:
        assert item["size"] > weights["digit__odd__high"]
        # the extra entry points add only their graphs (about 12-20 kB each for this many-group lattice)
        assert sizes[item["format"]] - item["size"] < 0.25 * added, (item, sizes, added)


@pytest.mark.slow
def test_tampered_artifact_is_detected(exported, tmp_path):
    out, _ = exported
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    with open(copy / "model.tflite", "ab") as f:
        f.write(b"\0")
    with pytest.raises(PamkitError, match="differs from its checksum"):
        load_manifest(copy)


@pytest.mark.slow
@pytest.mark.parametrize("path, message", [("/etc/passwd", "not a path relative to its folder"),
                                           ("../secret.pte", "lies outside its folder"),
                                           ("link.pte", "lies outside its folder")])
def test_manifest_paths_must_stay_in_the_export_folder(exported, tmp_path, path, message):
    """A crafted manifest must not make pamkit read (or checksum) a file elsewhere."""
    copy = tmp_path / "copy"
    shutil.copytree(exported[0], copy)
    (tmp_path / "secret.pte").write_bytes(b"secret")
    (copy / "link.pte").symlink_to(tmp_path / "secret.pte")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"][0]["path"] = path
    (copy / "manifest.json").write_text(json.dumps(manifest))
    for verify in (True, False):
        with pytest.raises(PamkitError, match=message):
            load_manifest(copy, verify_files=verify)


@pytest.mark.slow
def test_manifest_with_nan_is_refused_and_never_written(exported, tmp_path):
    out, manifest = exported
    assert "NaN" not in (out / "manifest.json").read_text()
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    broken = json.loads(json.dumps(manifest))
    broken["tasks"][0]["accuracy"]["score"] = float("nan")
    (copy / "manifest.json").write_text(json.dumps(broken))  # Python writes NaN; apps' strict parsers refuse it
    with pytest.raises(PamkitError, match="non-finite number NaN"):
        load_manifest(copy)


@pytest.mark.parametrize("options, message", [
    ({"formats": ("onnx",)}, r"unknown export formats \['onnx'\]"),
    ({"formats": ("tflite",), "combinations": "digit+nine"}, "unknown task"),
    ({"formats": ("tflite",), "combinations": "digit,"}, "empty task combination"),
    ({"formats": ("tflite",), "coreml_legacy": True}, "add coreml to the formats"),
    ({"stem": "../model"}, "plain file name"),
])
def test_bad_requests_leave_no_output(lattice, data, tmp_path, options, message):
    with pytest.raises(PamkitError, match=message):
        export(lattice, data, tmp_path / "out", ExportOptions(**options), progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("option", ["atol", "rtol", "int8_tolerance"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0])
def test_tolerances_must_be_finite_and_not_negative(option, value):
    """NaN compares false with everything: a NaN tolerance would let every output pass."""
    with pytest.raises(PamkitError, match=f"^{option} must be"):
        ExportOptions(**{option: value})


@pytest.mark.parametrize("option, value", [("parity_samples", 0), ("parity_samples", 2.0), ("threads", 0),
                                           ("jobs", -1), ("int8_samples", True), ("int8_tolerance", 1.5)])
def test_each_bad_number_is_named(option, value):
    with pytest.raises(PamkitError, match=f"^{option} must be"):
        ExportOptions(**{option: value})


@pytest.mark.slow
def test_a_non_finite_runtime_output_fails_parity(lattice, data, tmp_path, monkeypatch):
    """NaN differs from nothing by more than the tolerance; a runtime returning it must still fail."""
    real = TFLiteFormat.runner

    def nan_runner(self, path, threads=1):
        run = real(self, path, threads)
        return lambda name, x, outputs: [np.full_like(o, np.nan) for o in run(name, x, outputs)]
    monkeypatch.setattr(TFLiteFormat, "runner", nan_runner)
    with pytest.raises(PamkitError, match="output 'digit' is NaN or infinite where PyTorch's is finite"):
        export(lattice, data, tmp_path / "out", ExportOptions(formats=("tflite",), combinations="digit",
                                                              parity_samples=1), progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_overwrite_replaces_only_an_earlier_export(lattice, data, exported, tmp_path):
    model = save_multitask(tmp_path / "model" / "model", lattice)
    (tmp_path / "model" / "notes.txt").write_text("mine")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("keep me")
    options = ExportOptions(formats=("tflite",), combinations="digit", parity_samples=1, overwrite=True)
    for out, message in ((model.parent, "would replace the folder of the input"),
                         (tmp_path, "would replace the folder of the input"),
                         (mine, "files pamkit did not write")):
        with pytest.raises(PamkitError, match=message):
            export(lattice, data, out, options, model_path=model, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "model"]
    assert (mine / "keep.txt").read_text() == "keep me" and (model.parent / "notes.txt").exists() and model.exists()
    earlier = tmp_path / "earlier"
    shutil.copytree(exported[0], earlier)
    link = tmp_path / "link"
    link.symlink_to(earlier)
    manifest = export(lattice, data, link, options, model_path=model, progress=False)
    assert link.is_symlink() and load_manifest(earlier) == manifest and len(manifest["combinations"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier", "link", "mine", "model"]


@pytest.mark.slow
def test_an_output_that_appears_meanwhile_is_not_replaced(lattice, data, tmp_path, monkeypatch):
    """Two exports into one new folder: the second to finish fails and leaves the first one's output alone."""
    out = tmp_path / "out"

    def other_run_finishes_first(manifest):
        out.mkdir()
        (out / "manifest.json").write_text("the other run's")
    monkeypatch.setattr("pamkit.export.api.validate_manifest", other_run_finishes_first)
    with pytest.raises(PamkitError, match="appeared while this run was writing"):
        export(lattice, data, out, ExportOptions(formats=("tflite",), combinations="digit", parity_samples=1),
               progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (out / "manifest.json").read_text() == "the other run's"


@pytest.mark.slow
def test_unexportable_model_is_a_clear_error_and_leaves_no_output(lattice, data, tmp_path, monkeypatch):
    def branchy(x):  # data-dependent control flow: torch.export cannot capture it
        return torch.relu(x) if bool(x.sum() > 0) else -x

    monkeypatch.setitem(multitask._FUNCTIONS, "relu", branchy)
    with pytest.raises(PamkitError, match=r"executorch export failed.*Nothing was written"):
        export(lattice, data, tmp_path / "out", ExportOptions(formats=("executorch",)), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_wrong_data_or_existing_output_is_refused(lattice, data, digits_data, tmp_path):
    with pytest.raises(PamkitError, match="real inputs of the model's dataset"):
        export(lattice, dataclasses.replace(digits_data, input_spec=dataclasses.replace(
            lattice.structure.input_spec, size=8)), tmp_path / "out", progress=False)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(PamkitError, match="files pamkit did not write"):
            export(lattice, data, tmp_path / "out", ExportOptions(formats=("tflite",), overwrite=overwrite),
                   progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (tmp_path / "out" / "keep.txt").exists()


@pytest.mark.slow
def test_cli_exports_a_saved_model(lattice, tmp_path, capsys):
    model = save_multitask(tmp_path / "model", lattice)
    out = tmp_path / "export"
    assert main(["export", str(model), "--out", str(out), "--formats", "tflite,coreml", "--combinations",
                 "odd+digit,high", "--parity-samples", "2", "--coreml-legacy"]) == 0
    printed = capsys.readouterr().out
    assert "digit__odd" in printed and "validation: passed" in printed
    manifest = load_manifest(out)
    assert [c["entry"] for c in manifest["combinations"]] == ["digit__odd", "high"]
    legacy = {f["path"]: f for f in manifest["files"] if f.get("min_os") == "iOS 15 / macOS 12"}
    assert sorted(legacy) == ["coreml-ios15/digit__odd.mlpackage", "coreml-ios15/high.mlpackage"]
    plain = CoreMLFormat().signatures(out / "coreml-ios15" / "high.mlpackage")
    assert [name for name, _ in plain["main"].outputs] == ["high"]
    assert main(["export", str(model), "--out", str(tmp_path / "bad"), "--formats", "tflite,onnx"]) == 2
    assert "unknown export formats ['onnx']" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_an_int8_artifact_below_its_accuracy_budget_is_refused_as_a_result(digits_run, digits_data, tmp_path,
                                                                           monkeypatch):
    """Not bad input: the export ran and int8 missed its budget (exit 1, nothing written); callers catch the type."""
    import pamkit.export.api as export_api
    from pamkit.merge import merge

    _, trained = digits_run
    net, _ = merge(trained, "none", None)
    monkeypatch.setattr(export_api, "evaluate_all", lambda net, tasks, split: {t.name: 1.5 for t in tasks})
    options = ExportOptions(formats=("tflite-int8",), combinations="digit", parity_samples=2)
    with pytest.raises(Int8Refused, match="int8 is not offered for this model") as refused:
        export(net, digits_data, tmp_path / "int8", options, progress=False)
    assert refused.value.exit_code == 1 and not (tmp_path / "int8").exists()


@pytest.mark.slow
def test_int8_artifacts_keep_each_tasks_accuracy_and_are_smaller(digits_run, digits_data, tmp_path):
    from pamkit.merge import merge

    _, trained = digits_run
    net, _ = merge(trained, "none", None)  # the trained networks side by side: real accuracy to keep
    manifest = export(net, digits_data, tmp_path / "int8",
                      ExportOptions(formats=("executorch", "executorch-int8", "tflite", "tflite-int8"),
                                    combinations="digit,digit+odd+high", parity_samples=2), progress=False)
    files = {f["format"]: f for f in manifest["files"]}
    for fmt, path in (("executorch", "model.int8.pte"), ("tflite", "model.int8.tflite")):
        quantized = files[f"{fmt}-int8"]
        assert quantized["precision"] == "int8" and quantized["path"] == path
        assert quantized["size"] < 0.5 * files[fmt]["size"]
        result = manifest["validation"]["results"][f"{fmt}-int8"]
        assert result["samples"] == len(digits_data.test)
        assert set(result["accuracy"]) == {"digit", "digit__odd__high"}
        for scores in result["accuracy"].values():
            for task, score in scores.items():
                assert result["float_accuracy"][task] - score <= 0.01
    # the int8 methods really run quantized: outputs differ from float32 but agree with the recorded scores
    run = ExecuTorchFormat().runner(tmp_path / "int8" / "model.int8.pte")
    x = digits_data.test.images[:1]
    quantized = run("digit", x.numpy(), ("digit",))[0]
    with torch.no_grad():
        exact = net(x, ["digit"])["digit"].numpy()
    assert not np.array_equal(quantized, exact) and np.abs(quantized - exact).max() < 0.5 * np.abs(exact).max()
