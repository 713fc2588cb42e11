"""Label derivation for every built-in suite, user suite files, and their errors."""

import pytest
import torch

from pamkit.errors import TaskError
from pamkit.tasks import Task, TaskSuite, builtin_suite_names, get_suite, load_suite_file

ALL = torch.arange(10)


def test_builtin_suites_are_the_documented_ones():
    assert builtin_suite_names() == ["digits", "digits-paper", "fashion-paper", "fashion4", "mnist4"]


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
    yaml_file.write_text("dataset: fashion-mnist\ntasks:\n  shoe:\n    kind: binary\n    positive: [sandal, 7, ankle-boot]\n")
    toml_file = tmp_path / "shoes.toml"
    toml_file.write_text('dataset = "fashion-mnist"\n[tasks.shoe]\nkind = "binary"\npositive = ["sandal", 7, "ankle-boot"]\n')
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
