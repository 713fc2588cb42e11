"""Shared fixtures: tiny trained networks on the bundled digits, trained once per session."""

import pytest
import torch

# Tests run many small ops; one intra-op thread keeps them fast and steady on a loaded 2-core machine
# (measured: 3x faster than two threads while another process uses the cores).
torch.set_num_threads(1)

from pamkit.tasks import get_suite
from pamkit.train import TrainConfig, suite_data, train_suite


@pytest.fixture(scope="session")
def digits_data():
    """The bundled 8x8 digits upsampled to 16 px (so LeNet-5's flatten holds 2x2 features per channel)."""
    return suite_data(get_suite("digits"), "lenet5", size=16)


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory, digits_data):
    """Three LeNet-5 networks (digit, odd, high) trained for a few epochs into a run directory."""
    out = tmp_path_factory.mktemp("digits_run")
    trained = train_suite(get_suite("digits"), "lenet5", digits_data, out, TrainConfig(epochs=12, batch_size=32, lr=3e-3))
    return out, trained


@pytest.fixture(scope="session")
def app_export(tmp_path_factory, digits_data):
    """A 3-task lattice on the digits exported to every float format, Core ML's legacy packages included: what
    the app sides' assets are made from (tests/test_android.py, tests/test_ios.py)."""
    import dataclasses

    from helpers import random_lattice, source_nets
    from pamkit.export import ExportOptions, export

    net = random_lattice(source_nets("lenet5", 16), seed=5)
    data = dataclasses.replace(digits_data, input_spec=net.structure.input_spec)
    out = tmp_path_factory.mktemp("app_export") / "export"
    options = ExportOptions(parity_samples=2, combinations="digit,odd+high,digit+odd+high", coreml_legacy=True)
    export(net, data, out, options, progress=False)
    return out
