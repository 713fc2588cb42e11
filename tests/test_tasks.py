"""Label derivation for every built-in suite, user suite files, and their errors."""

import time

import pytest
import torch

from pamkit.cli import main
from pamkit.errors import PamkitError, TaskError
from pamkit.export.entries import parse_combinations
from pamkit.tasks import Task, TaskSuite, builtin_suite_names, get_suite, load_suite_file
from pamkit.tasks.names import MAX_LENGTH, check_task_names

ALL = torch.arange(10)


def test_builtin_suites_are_the_documented_ones():
    assert builtin_suite_names() == ["digits", "digits-paper", "domains", "fashion-paper", "fashion4", "mnist4",
                                     "related-k0", "related-k10", "related-k2", "related-k5", "related-k8"]


def test_fashion_paper_is_five_pm1_attributes_per_half():
    suite = get_suite("fashion-paper")
    a, b = suite.task("a"), suite.task("b")
    assert (a.kind, a.encoding, a.num_outputs) == ("multilabel", "pm1", 5)
    ta, tb = a.targets(ALL), b.targets(ALL)
    # class c in 0..4 turns on exactly attribute c of task A and nothing of task B (and vice versa)
    assert torch.equal(ta[:5], torch.eye(5) * 2 - 1) and torch.equal(ta[5:], -torch.ones(5, 5))
    assert torch.equal(tb[5:], torch.eye(5) * 2 - 1) and torch.equal(tb[:5], -torch.ones(5, 5))


def test_fashion4_labels():
    suite = get_suite("fashion4")
    assert suite.task_names == ("category", "group", "footwear", "long-sleeve")
    assert suite.task("category").targets(ALL).tolist() == list(range(10))
    # t-shirt, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle-boot
    assert suite.task("group").targets(ALL).tolist() == [0, 1, 0, 1, 0, 2, 0, 2, 3, 2]
    assert suite.task("group").output_names == ("top", "bottom-or-dress", "footwear", "bag")
    assert suite.task("footwear").targets(ALL)[:, 0].tolist() == [0, 0, 0, 0, 0, 1, 0, 1, 0, 1]
    assert suite.task("long-sleeve").targets(ALL)[:, 0].tolist() == [0, 0, 1, 0, 1, 0, 1, 0, 0, 0]


def test_mnist4_labels():
    suite = get_suite("mnist4")
    assert suite.task("digit").targets(ALL).tolist() == list(range(10))
    assert suite.task("odd").targets(ALL)[:, 0].tolist() == [d % 2 for d in range(10)]
    assert suite.task("high").targets(ALL)[:, 0].tolist() == [int(d >= 5) for d in range(10)]
    assert suite.task("prime").targets(ALL)[:, 0].tolist() == [int(d in (2, 3, 5, 7)) for d in range(10)]


def test_digits_suites():
    assert get_suite("digits").task_names == ("digit", "odd", "high")
    paper = get_suite("digits-paper")
    assert torch.equal(paper.task("a").targets(ALL)[:5], torch.eye(5) * 2 - 1)


def test_loss_and_score_per_kind():
    suite = get_suite("fashion4")
    category, footwear = suite.task("category"), suite.task("footwear")
    labels = torch.tensor([5, 0])
    logits = torch.full((2, 10), -5.0)
    logits[0, 5] = logits[1, 3] = 5.0
    assert category.correct(logits, category.targets(labels)).tolist() == [1.0, 0.0]
    out = torch.tensor([[3.0], [3.0]])
    assert footwear.correct(out, footwear.targets(labels)).tolist() == [1.0, 0.0]
    paper_a = get_suite("fashion-paper").task("a")
    out = torch.tensor([[5.0, -5, -5, -5, -5]])  # predicts class 0, truth is class 1: 3 of 5 attributes agree
    assert paper_a.correct(out, paper_a.targets(torch.tensor([1]))).item() == pytest.approx(0.6)
    assert paper_a.loss(out * 100, paper_a.targets(torch.tensor([0]))).item() == pytest.approx(0.0, abs=1e-6)


def test_discrete_labels_for_mutual_information():
    suite = get_suite("fashion-paper")
    cols = suite.task("a").discrete_labels(torch.tensor([0, 7]))
    assert cols.tolist() == [[1, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
    assert get_suite("mnist4").task("digit").discrete_labels(torch.tensor([3])).tolist() == [[3]]


def test_task_and_suite_round_trip():
    suite = get_suite("fashion4")
    assert TaskSuite.from_dict(suite.to_dict()) == suite


def test_user_suite_yaml_and_toml(tmp_path):
    yaml_file = tmp_path / "shoes.yaml"
    yaml_file.write_text("dataset: fashion-mnist\ntasks:\n  shoe:\n    kind: binary\n"
                         "    positive: [sandal, 7, ankle-boot]\n")
    toml_file = tmp_path / "shoes.toml"
    toml_file.write_text('dataset = "fashion-mnist"\n[tasks.shoe]\nkind = "binary"\n'
                         'positive = ["sandal", 7, "ankle-boot"]\n')
    a, b = load_suite_file(yaml_file), get_suite(str(toml_file))
    assert a.tasks == b.tasks and a.name == "shoes"
    assert a.task("shoe").outputs == (("shoe", (5, 7, 9)),)


@pytest.mark.parametrize("body, message", [
    ("dataset: cifar10\ntasks: {x: {kind: multiclass}}\n", "unknown dataset"),
    ("dataset: mnist\ntasks: {x: {kind: binary, positive: [eleven]}}\n", "unknown class 'eleven'"),
    ("dataset: mnist\ntasks: {x: {kind: binary, positive: []}}\n", "has no classes"),
    ("dataset: mnist\ntasks: {x: {kind: multilabel}}\n", "is empty"),
    ("dataset: mnist\ntasks: {x: {kind: regression}}\n", "give 'kind:'"),
    ("dataset: mnist\ntasks: {x: {kind: multiclass, classes: {lo: [0, 1]}}}\n", "exactly one output"),
    ("dataset: mnist\ntasks: {x: {kind: binary, positive: [1], targets: pm2}}\n", "encoding 'pm2'"),
    ("dataset: mnist\ntasks: {x: {kind: binary, positive: [1], colour: red}}\n", "unknown keys"),
    ("dataset: mnist\ntasks: {}\n", "has no tasks"),
    ("dataset: mnist\n", "needs 'dataset: NAME'"),
    ("dataset: [unclosed\n", "not valid YAML"),
    ("dataset: composite\ntasks: {x: {kind: multiclass}}\n", "needs one class per image, but its dataset labels "
                                                             "attributes; use kind binary or multilabel"),
    ("dataset: composite\ntasks: {x: {kind: binary, positive: [digit-10]}}\n",
     "unknown attribute 'digit-10'; the dataset's attributes are t-shirt/top"),
    ("dataset: composite\ntasks: {x: {kind: multilabel, attributes: {y: []}}}\n", "has no attributes"),
])
def test_bad_suite_files_name_the_problem(tmp_path, body, message):
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(TaskError, match=message):
        load_suite_file(path)


def test_unknown_suite_and_task():
    with pytest.raises(TaskError, match="built-in suites: digits"):
        get_suite("celeba")
    with pytest.raises(TaskError, match="its tasks are: digit, odd, high"):
        get_suite("digits").task("prime")
    with pytest.raises(TaskError, match="outside the dataset"):
        Task("x", "binary", (("x", (12,)),), 10, "01")


def binary(name: str) -> Task:
    return Task(name, "binary", ((name, (1,)),), 10, "01")


@pytest.mark.parametrize("name", ["a", "long-sleeve", "A1_b-c2", "x" * MAX_LENGTH])
def test_task_names_that_follow_the_rule(name):
    assert binary(name).name == name


@pytest.mark.parametrize("name", ["", "café", "a__b", "a-_b", "a--b", "3d", "_a", "a-", "a_", "a b", "a.b",
                                  "x" * (MAX_LENGTH + 1), "x" * 300])
def test_task_names_that_break_the_rule_are_refused_when_built(name):
    with pytest.raises(TaskError, match="is not allowed: a task name starts with an ASCII letter"):
        binary(name)


@pytest.mark.parametrize("names, message", [
    (["a-b", "a_b"], "'a-b' and 'a_b' collide"),
    (["Odd", "odd"], "'Odd' and 'odd' collide"),
    (["a", "a"], "'a' is used twice"),
])
def test_names_of_one_suite_must_not_collide(names, message):
    with pytest.raises(TaskError, match=message):
        check_task_names(names)
    with pytest.raises(TaskError, match=message):
        TaskSuite("s", "digits", tuple(binary(n) for n in names))


def test_export_uses_the_same_rule():
    """A model trained before the rule (or built by hand) is refused at export with the rule's own words."""
    with pytest.raises(PamkitError, match="cannot name exported outputs: task names 'a-b' and 'a_b' collide"):
        parse_combinations(("a-b", "a_b"), None)
    assert parse_combinations(("a-b", "c"), "a-b+c") == [("a-b", "c")]


def test_trivial_score_per_kind():
    suite = get_suite("digits")
    assert suite.task("digit").trivial_score(torch.tensor([0, 0, 1, 2])) == pytest.approx(0.5)
    assert suite.task("odd").trivial_score(torch.tensor([1, 3, 2])) == pytest.approx(2 / 3)
    assert suite.task("odd").trivial_score(torch.tensor([2, 4, 6])) == pytest.approx(1.0)
    with pytest.raises(TaskError, match="no labels"):
        suite.task("odd").trivial_score(torch.tensor([], dtype=torch.long))


def test_always_answering_no_scores_exactly_the_trivial_baseline():
    """digits-paper's attributes are each on for one class in ten: "no" everywhere already scores 0.9."""
    task = get_suite("digits-paper").task("a")
    labels = torch.arange(10).repeat(7)
    never = torch.full((len(labels), task.num_outputs), -1.0)
    assert task.trivial_score(labels) == pytest.approx(0.9)
    assert task.correct(never, task.targets(labels)).mean().item() == pytest.approx(task.trivial_score(labels))


def test_select_needs_at_least_one_known_task():
    suite = get_suite("digits")
    assert suite.select(["high", "odd"]).task_names == ("odd", "high")
    for names in ([], [""], ["prime"]):
        with pytest.raises(TaskError, match="digit, odd, high"):
            suite.select(names)


def alias_bomb(levels: int = 12) -> str:
    lines = ["dataset: digits", "l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join([*lines, "tasks: {x: {kind: binary, positive: [1]}}"]) + "\n"


@pytest.mark.parametrize("body, message", [
    ("dataset: digits\ntasks:\n  odd: {kind: binary, positive: [1]}\n  odd: {kind: binary, positive: [3]}\n",
     "line 4, column 3: the key 'odd' appears twice"),
    ("dataset: digits\ndataset: mnist\ntasks: {x: {kind: binary, positive: [1]}}\n", "the key 'dataset' appears"),
    (alias_bomb(), "aliases (*name) are not allowed"),
    ("dataset: digits\ntasks: !!python/object/apply:os.system [echo]\n", "the tag 'tag:yaml.org,2002:python/"),
    ("dataset: digits\ntasks: {no: {kind: binary, positive: [1]}}\n", "task name False is not text (YAML read it as"),
    ("dataset: digits\ntasks: {1: {kind: binary, positive: [1]}}\n", "task name 1 is not text (YAML read it as int"),
    (f"dataset: digits\ntasks: {{{'x' * 300}: {{kind: binary, positive: [1]}}}}\n", "(300 characters)"),
    ("dataset: digits\ntasks: {a-b: {kind: binary, positive: [1]}, a_b: {kind: binary, positive: [2]}}\n",
     "collide"),
])
def test_suite_files_are_plain_yaml_with_valid_names(tmp_path, body, message):
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    started = time.perf_counter()
    with pytest.raises(TaskError) as err:
        load_suite_file(path)
    assert message in str(err.value) and len(str(err.value)) < 400
    assert time.perf_counter() - started < 1.0


def test_suites_verb_checks_a_suite_file(tmp_path, capsys):
    path = tmp_path / "shoes.toml"
    path.write_text('dataset = "fashion-mnist"\n[tasks.shoe]\nkind = "binary"\npositive = ["sandal"]\n')
    assert main(["suites", str(path)]) == 0
    assert "tasks: shoe (binary, 1 out)" in capsys.readouterr().out
    path.write_text('dataset = "fashion-mnist"\n[tasks.shoe]\nkind = "binary"\nkind = "binary"\n')
    assert main(["suites", str(path)]) == 2
    assert "is not valid TOML" in capsys.readouterr().err


# ---------------------------------------------------------------- tasks over attributes (composite)

# Five frames' attribute rows: garments in columns 0-9, digits in 10-19.
FRAMES = torch.zeros(5, 20, dtype=torch.long)
for _row, _on in enumerate([(0, 5, 10, 13), (5, 7, 11, 19), (1, 12, 15), (9, 8, 10, 11), (3, 4, 16, 18)]):
    FRAMES[_row, list(_on)] = 1


def test_multilabel_targets_over_attributes_are_the_attribute_columns():
    b = get_suite("related-k2").task("b")  # garments 0-7, digits 0 and 1
    columns = [c for _, (c,) in b.outputs]
    assert columns == [0, 1, 2, 3, 4, 5, 6, 7, 10, 11]
    assert torch.equal(b.targets(FRAMES), FRAMES[:, columns].float())
    assert torch.equal(b.discrete_labels(FRAMES), FRAMES[:, columns])
    on = FRAMES[:, columns].float().mean(dim=0)
    assert b.trivial_score(FRAMES) == pytest.approx(torch.maximum(on, 1 - on).mean().item())
    never = torch.full((5, 10), -1.0)
    assert b.correct(never, b.targets(FRAMES)).mean().item() == pytest.approx(b.trivial_score(FRAMES))


def test_user_suite_over_attributes_binary_is_any_of_its_attributes(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("dataset: composite\ntasks:\n  footwear:\n    kind: binary\n    targets: pm1\n"
                    "    positive: [sandal, sneaker, ankle-boot]\n  odd:\n    kind: binary\n"
                    "    positive: [digit-1, digit-3, digit-5, digit-7, digit-9]\n")
    suite = load_suite_file(path)
    footwear, odd = suite.task("footwear"), suite.task("odd")
    assert footwear.outputs == (("footwear", (5, 7, 9)),) and footwear.label_kind == "attributes"
    assert footwear.targets(FRAMES)[:, 0].tolist() == [1, 1, -1, 1, -1]
    assert odd.targets(FRAMES)[:, 0].tolist() == [1, 1, 1, 1, 0]


def test_labels_of_the_other_kind_are_refused():
    attributes, classes = get_suite("domains").task("a"), get_suite("fashion4").task("footwear")
    with pytest.raises(TaskError, match=r"over attributes and needs labels \[N, 20\] 0/1 attributes, got shape \[10\]"):
        attributes.targets(ALL)
    with pytest.raises(TaskError, match=r"over classes and needs labels \[N\] class indices, got shape \[5, 20\]"):
        classes.targets(FRAMES)


def test_label_kind_round_trips_and_class_tasks_keep_their_record():
    task = get_suite("domains").task("b")
    assert task.to_dict()["label_kind"] == "attributes" and Task.from_dict(task.to_dict()) == task
    assert "label_kind" not in get_suite("fashion4").task("group").to_dict()


def test_a_combination_is_one_value_whatever_its_written_order():
    import copy
    import pickle

    from pamkit.tasks import Combination

    order = ("category", "footwear", "long-sleeve")
    combo = Combination.parse("long-sleeve + category", order)
    assert combo == ("category", "long-sleeve") == Combination(["long-sleeve", "category"], order)
    assert (combo.label, combo.entry, str(combo)) == ("category+long-sleeve", "category__long_sleeve",
                                                      "category+long-sleeve")
    assert hash(combo) == hash(("category", "long-sleeve"))  # a dict keyed by plain tuples finds it
    assert pickle.loads(pickle.dumps(combo)) == combo and type(copy.deepcopy(combo)) is Combination
    assert Combination.parse_list("footwear,category+footwear,footwear+category", order) == [
        ("footwear",), ("category", "footwear")]
    assert len(Combination.parse_list("all", order)) == 7 == len(Combination.every(order))
    for text, message in (("", "empty task combination"), ("category+", "empty task combination"),
                          ("shoe", "unknown task 'shoe'"), ("shoe+hat", "unknown tasks 'shoe', 'hat'"),
                          ("footwear+footwear", "names footwear twice")):
        with pytest.raises(PamkitError, match=message):
            Combination.parse(text, order)
