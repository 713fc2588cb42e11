"""Bad task suites: names that break the one naming rule, YAML/TOML that is not plain data, unknown references."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .case import Case


def writes(name: str, content: str | bytes) -> Callable[[Path, object], None]:
    """A case setup that writes one file (and its folders) into the case's own folder."""
    def setup(case_dir: Path, ws: object) -> None:
        path = case_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return setup


def suite(tasks: str, dataset: str = "digits") -> str:
    """A suite file's YAML around ``tasks`` (the body of its ``tasks:`` mapping, one task per line)."""
    return f"dataset: {dataset}\ntasks:\n" + "".join(f"  {line}\n" for line in tasks.splitlines())


def task_name_case(case_id: str, name: str, expect: str, verb: tuple[str, ...] = ("suites",)) -> Case:
    """A suite whose only flaw is one task called ``name``, given to ``verb``."""
    body = suite(f"{name}: {{kind: binary, positive: [1]}}\nhigh: {{kind: binary, positive: [5, 6]}}")
    return Case(case_id, (*verb, "{case}/s.yaml"), expect, setup=writes("s.yaml", body))


def bomb(levels: int = 12) -> str:
    """A billion-laughs YAML: each level repeats the previous one nine times (9^12 leaves)."""
    lines = ["dataset: digits", "l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join([*lines, "tasks: {x: {kind: binary, positive: [1]}}"]) + "\n"


TRAIN = ("train", "--arch", "lenet5", "--out", "{case}/run", "--suite")
COMPARE = ("compare", "--arch", "lenet5", "--out", "{case}/cmp", "--suite")
NOT_ALLOWED = "is not allowed: a task name starts with an ASCII letter"

CASES = [
    task_name_case("suite-name-non-ascii", "café", f"'café' {NOT_ALLOWED}"),
    task_name_case("suite-name-double-underscore", "a__b", f"'a__b' {NOT_ALLOWED}"),
    task_name_case("suite-name-dash-then-underscore", "a-_b", f"'a-_b' {NOT_ALLOWED}"),
    task_name_case("suite-name-starts-with-digit", "3d", f"'3d' {NOT_ALLOWED}"),
    task_name_case("suite-name-ends-with-dash", "odd-", f"'odd-' {NOT_ALLOWED}"),
    task_name_case("suite-name-with-space", "'is odd'", f"'is odd' {NOT_ALLOWED}"),
    task_name_case("suite-name-300-characters-train", "x" * 300, "(300 characters)' is not allowed", TRAIN),
    task_name_case("suite-name-65-characters", "x" * 65, "(65 characters)' is not allowed"),
    task_name_case("suite-name-yaml-bool", "no", "task name False is not text (YAML read it as bool); quote it"),
    task_name_case("suite-name-number-compare", "7", "task name 7 is not text (YAML read it as int)", COMPARE),
    Case("suite-names-collide-dash-underscore", ("suites", "{case}/s.yaml"), "'a-b' and 'a_b' collide",
         setup=writes("s.yaml", suite("a-b: {kind: binary, positive: [1]}\na_b: {kind: binary, positive: [2]}"))),
    Case("suite-names-collide-case", (*TRAIN, "{case}/s.yaml"), "'Odd' and 'odd' collide",
         setup=writes("s.yaml", suite("Odd: {kind: binary, positive: [1]}\nodd: {kind: binary, positive: [3]}"))),
    Case("suite-duplicate-key-train", (*TRAIN, "{case}/s.yaml"), "the key 'odd' appears twice",
         setup=writes("s.yaml", suite("odd: {kind: binary, positive: [1]}\nodd: {kind: binary, positive: [3]}"))),
    Case("suite-alias-bomb", (*TRAIN, "{case}/s.yaml"), "aliases (*name) are not allowed in suite files",
         setup=writes("s.yaml", bomb())),
    Case("suite-python-object-tag", ("suites", "{case}/s.yaml"), "tag:yaml.org,2002:python/object/apply:os.system",
         setup=writes("s.yaml", "dataset: digits\ntasks: !!python/object/apply:os.system [touch pwned]\n")),
    Case("suite-unknown-dataset", (*COMPARE, "{case}/s.yaml"), "unknown dataset 'cifar10'",
         setup=writes("s.yaml", suite("x: {kind: binary, positive: [1]}", dataset="cifar10"))),
    Case("suite-unknown-kind", ("suites", "{case}/s.yaml"), "give 'kind:' as one of multiclass, binary",
         setup=writes("s.yaml", suite("x: {kind: regression}"))),
    Case("suite-unknown-class", ("suites", "{case}/s.yaml"), "unknown class 'eleven'",
         setup=writes("s.yaml", suite("x: {kind: binary, positive: [eleven]}"))),
    Case("suite-empty-tasks", (*TRAIN, "{case}/s.yaml"), "has no tasks",
         setup=writes("s.yaml", "dataset: digits\ntasks: {}\n")),
    Case("suite-top-level-list", ("suites", "{case}/s.yaml"), "a suite needs 'dataset: NAME'",
         setup=writes("s.yaml", "- dataset: digits\n")),
    Case("suite-bad-yaml-syntax", ("suites", "{case}/s.yaml"), "is not valid YAML: line 2",
         setup=writes("s.yaml", "dataset: [digits\ntasks: {}\n")),
    Case("suite-not-utf8", ("suites", "{case}/s.yaml"), "is not valid YAML: 'utf-8' codec",
         setup=writes("s.yaml", b"dataset: digits\ntasks: {\xff: {kind: binary}}\n")),
    Case("suite-bad-toml-syntax", (*TRAIN, "{case}/s.toml"), "is not valid TOML",
         setup=writes("s.toml", 'dataset = "digits"\n[tasks.x\nkind = "binary"\n')),
    Case("suite-toml-repeated-key", ("suites", "{case}/s.toml"), "is not valid TOML: Cannot overwrite a value",
         setup=writes("s.toml", 'dataset = "digits"\n[tasks.x]\nkind = "binary"\nkind = "multiclass"\n')),
    Case("suite-file-missing", (*TRAIN, "{case}/missing.yaml"), "missing.yaml does not exist"),
    Case("suite-file-is-a-folder", ("suites", "{case}/s.yaml"), "s.yaml is not a file",
         setup=lambda case_dir, ws: (case_dir / "s.yaml").mkdir()),
    Case("suite-file-not-a-suite", (*TRAIN, "{user_file}"), "unknown suite"),
    Case("suites-unknown-name", ("suites", "celeba"), "unknown suite 'celeba'; built-in suites: digits"),
]
