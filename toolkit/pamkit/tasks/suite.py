"""Task suites: several tasks over one dataset, built in or read from a user's YAML or TOML file."""

from __future__ import annotations

import tomllib
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..data import DatasetInfo, dataset_info
from ..errors import PamkitError, TaskError
from .names import check_task_name, check_task_names
from .task import Task

_BUILTIN = resources.files(__package__) / "suites"


@dataclass(frozen=True)
class TaskSuite:
    """Tasks that all read the same input images, in a fixed declared order."""

    name: str
    dataset: str
    tasks: tuple[Task, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if not self.tasks:
            raise TaskError(f"suite {self.name!r} has no tasks; define at least one under 'tasks:'")
        check_task_names(self.task_names)

    @property
    def task_names(self) -> tuple[str, ...]:
        """Task names in declared order (the order used for entry-point names later)."""
        return tuple(task.name for task in self.tasks)

    def task(self, name: str) -> Task:
        """The task called ``name``; TaskError naming the suite's tasks otherwise."""
        for task in self.tasks:
            if task.name == name:
                return task
        raise TaskError(f"unknown task {name!r} in suite {self.name!r}; its tasks are: {', '.join(self.task_names)}")

    def select(self, names: Iterable[str]) -> TaskSuite:
        """The same suite restricted to ``names`` (kept in declared order); at least one, each of this suite."""
        wanted = list(names)
        if not wanted:
            raise TaskError(
                f"no tasks selected from suite {self.name!r}; name one or more of: {', '.join(self.task_names)}"
            )
        for name in wanted:
            self.task(name)
        return TaskSuite(self.name, self.dataset, tuple(t for t in self.tasks if t.name in wanted), self.description)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description from which ``from_dict`` rebuilds the same suite."""
        return {
            "name": self.name,
            "dataset": self.dataset,
            "description": self.description,
            "tasks": [task.to_dict() for task in self.tasks],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskSuite:
        """Rebuild a suite written by ``to_dict``."""
        try:
            tasks = tuple(Task.from_dict(t) for t in data["tasks"])
            return cls(str(data["name"]), str(data["dataset"]), tasks, str(data.get("description", "")))
        except (KeyError, TypeError) as exc:
            raise TaskError(f"malformed suite description (missing {exc}); re-create it with pamkit") from None


def builtin_suite_names() -> list[str]:
    """Names of the suites that ship with pamkit."""
    return sorted(entry.name.removesuffix(".yaml") for entry in _BUILTIN.iterdir() if entry.name.endswith(".yaml"))


def builtin_suite_text(name: str) -> str:
    """The YAML source of a built-in suite (a template for users' own suites)."""
    if name not in builtin_suite_names():
        raise TaskError(
            f"unknown suite {name!r}; built-in suites: {', '.join(builtin_suite_names())}, "
            "or give the path of a .yaml/.toml suite file"
        )
    return (_BUILTIN / f"{name}.yaml").read_text()


def get_suite(name_or_path: str | Path) -> TaskSuite:
    """A built-in suite by name, or a user's suite from a .yaml/.yml/.toml file."""
    text = str(name_or_path)
    if text in builtin_suite_names():
        return suite_from_spec(_parse_yaml(builtin_suite_text(text)), name=text)
    path = Path(text)
    if path.suffix.lower() in (".yaml", ".yml", ".toml"):
        return load_suite_file(path)
    raise TaskError(
        f"unknown suite {text!r}; built-in suites: {', '.join(builtin_suite_names())}, "
        "or give the path of a .yaml/.toml suite file"
    )


def load_suite_file(path: str | Path) -> TaskSuite:
    """Read a user-defined suite (see the built-in suites' YAML for the format)."""
    path = Path(path)
    if not path.is_file():
        raise TaskError(f"suite file {path} {'is not a file' if path.exists() else 'does not exist'}; check the path")
    toml = path.suffix.lower() == ".toml"
    try:
        text = path.read_text()
        spec = tomllib.loads(text) if toml else _parse_yaml(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problem = _yaml_problem(exc) if isinstance(exc, yaml.YAMLError) else str(exc)[:200]
        raise TaskError(f"suite file {path} is not valid {'TOML' if toml else 'YAML'}: {problem}") from None
    try:
        return suite_from_spec(spec, name=str(spec.get("name", path.stem)) if isinstance(spec, dict) else path.stem)
    except TaskError as exc:
        raise TaskError(f"{path}: {exc}") from None


def suite_from_spec(spec: Any, name: str) -> TaskSuite:
    """Build a suite from the parsed file format: ``dataset``, ``description``, ``tasks: {name: {...}}``.

    Tasks name the dataset's classes, or its attributes when it labels attributes (composite).
    """
    if not isinstance(spec, dict) or not isinstance(spec.get("tasks"), dict) or "dataset" not in spec:
        raise TaskError("a suite needs 'dataset: NAME' and a mapping 'tasks: {task-name: {kind: ...}}'")
    try:
        info = dataset_info(str(spec["dataset"]))
    except PamkitError as exc:
        raise TaskError(str(exc)) from None
    tasks = tuple(_task_from_spec(task_name, task_spec, info) for task_name, task_spec in spec["tasks"].items())
    return TaskSuite(name, str(spec["dataset"]), tasks, str(spec.get("description", "")))


_KIND_KEYS = {"multiclass": "classes", "binary": "positive", "multilabel": "attributes"}
_ONE_LABEL = {"classes": "class", "attributes": "attribute"}  # LABEL_KINDS in the singular, for messages


def _task_from_spec(name: Any, spec: Any, info: DatasetInfo) -> Task:
    name = check_task_name(name)
    if not isinstance(spec, dict) or spec.get("kind") not in _KIND_KEYS:
        raise TaskError(f"task {name!r}: give 'kind:' as one of {', '.join(_KIND_KEYS)}")
    kind = spec["kind"]
    unknown = set(spec) - {"kind", "targets", _KIND_KEYS[kind]}
    if unknown:
        targets = "" if kind == "multiclass" else " and 'targets' (pm1 or 01)"
        raise TaskError(
            f"task {name!r}: unknown keys {sorted(unknown)}; a {kind} task takes 'kind', '{_KIND_KEYS[kind]}'{targets}"
        )
    if kind == "multiclass":
        mapping = spec.get("classes") or {c: [c] for c in info.class_names}
        outputs = _outputs(name, mapping, info)
        encoding = "index"
    elif kind == "binary":
        outputs = ((name, _class_indices(name, spec.get("positive") or [], info)),)
        encoding = str(spec.get("targets", "01"))
    else:
        outputs = _outputs(name, spec.get("attributes") or {}, info)
        encoding = str(spec.get("targets", "01"))
    return Task(name, kind, outputs, len(info.class_names), encoding, info.label_kind)


def _outputs(task: str, mapping: Any, info: DatasetInfo) -> tuple[tuple[str, tuple[int, ...]], ...]:
    if not isinstance(mapping, dict):
        raise TaskError(f"task {task!r}: expected a mapping 'output-name: [dataset {info.label_kind}]'")
    return tuple((str(out), _class_indices(task, refs, info)) for out, refs in mapping.items())


def _class_indices(task: str, refs: Any, info: DatasetInfo) -> tuple[int, ...]:
    classes = info.class_names
    if not isinstance(refs, list):
        refs = [refs]
    indices = []
    for ref in refs:
        if isinstance(ref, int) and not isinstance(ref, bool) and 0 <= ref < len(classes):
            indices.append(ref)
        elif isinstance(ref, str) and ref in classes:
            indices.append(classes.index(ref))
        else:
            raise TaskError(
                f"task {task!r}: unknown {_ONE_LABEL[info.label_kind]} {ref!r}; the dataset's {info.label_kind} "
                f"are {', '.join(classes)} (or their indices 0..{len(classes) - 1})"
            )
    return tuple(sorted(set(indices)))


class _SuiteLoader(yaml.SafeLoader):
    """Plain YAML only: no aliases (an alias bomb expands to gigabytes), no repeated keys (the last would
    silently replace the first, dropping a task), no tags beyond the standard scalars and collections."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None,
                None,
                "aliases (*name) are not allowed in suite files; write each value out",
                self.peek_event().start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Hashable] = set()
        for key_node, _ in node.value if isinstance(node, yaml.MappingNode) else ():
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key {key!r} appears twice (the second "
                    "would silently replace the first); remove or rename one",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep)

    def construct_undefined(self, node: Any) -> Any:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"the tag {node.tag!r} is not allowed: suite files hold plain mappings, lists, text and numbers",
            node.start_mark,
        )


_SuiteLoader.add_constructor(None, _SuiteLoader.construct_undefined)


def _parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_SuiteLoader)  # a SafeLoader: builds no Python objects


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One short line: what is wrong and where (PyYAML's own text spans several lines and echoes the input)."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return str(exc)[:200]
    mark = exc.problem_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    return f"{where}{exc.problem or exc.context}"
