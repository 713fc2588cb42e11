"""The shared app cases are what pamkit's Python code answers today, and the committed manifests are real and
current: the Android and iOS sides are tested against these files, so a drift here would go unnoticed there."""

import json
from pathlib import Path

import pytest

from pamkit.export import select_entry, validate_manifest

FIXTURES = Path(__file__).parent / "app_fixtures"


def test_app_cases_are_what_the_generator_writes_today(tmp_path):
    from app_fixtures.generate import write

    write(tmp_path / "app_cases.json")
    assert json.loads((tmp_path / "app_cases.json").read_text()) == json.loads((FIXTURES / "app_cases.json").read_text()), (
        "tests/app_fixtures/app_cases.json is stale: run `.venv/bin/python tests/app_fixtures/generate.py`"
    )


@pytest.mark.parametrize("name", ["demo", "three_tasks"])
def test_committed_manifests_follow_the_current_schema(name):
    manifest = json.loads((FIXTURES / "manifests" / f"{name}.json").read_text())
    validate_manifest(manifest)
    names = [t["name"] for t in manifest["tasks"]]
    for combination in manifest["combinations"]:  # every entry point is its own answer
        assert select_entry(manifest, combination["tasks"])["entry"] == combination["entry"]
    assert {f["format"] for f in manifest["files"]} >= {"executorch", "tflite"}
    assert len(manifest["combinations"]) == 2 ** len(names) - 1


def test_the_cases_cover_every_kind_of_step_and_decision():
    cases = json.loads((FIXTURES / "app_cases.json").read_text())
    steps = [[s["op"] for s in c["input"]["preprocessing"]["steps"]] for c in cases["preprocessing"]]
    assert ["scale", "normalize"] in steps and ["scale", "resize", "normalize"] in steps
    assert any(s["op"] == "resize" and s["antialias"] for c in cases["preprocessing"] for s in c["input"]["preprocessing"]["steps"])
    kinds = {(c["task"]["kind"], c["task"]["encoding"]) for c in cases["decoding"]}
    assert kinds == {("multiclass", "index"), ("binary", "01"), ("multilabel", "01"), ("multilabel", "pm1")}
    assert {c["warning"] is None for c in cases["latency"]} == {True, False}
