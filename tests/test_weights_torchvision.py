"""torchvision's r3d_18, mc3_18 and r2plus1d_18 weights give torchvision's logits in videokit, on every backend.

Offline: the reference networks are torchvision's own classes with random
weights (``torch.manual_seed``), their batch-norm statistics and affine
parameters randomised too, so that a weight loaded in the wrong place cannot
hide (``tests/torchvision_reference.py``, run in its own process: torchvision
cannot be imported after TensorFlow). The fast tests use one residual block
per stage (torchvision's ``VideoResNet`` with ``layers=[1, 1, 1, 1]``: every
kind of layer and every name pattern of the 18-layer networks, at half their
depth) and 5 classes; the slow one imports the full 18-layer networks with
400 classes.

Compared: the imported model's logits (its ``"avg_pool"`` features through
its ``"predictions"`` kernel and bias; the model itself ends in a softmax) and
its log-probabilities, against torchvision's logits and their log-softmax on
the same clips (normalised by Kinetics' mean and standard deviation and laid
out ``(batch, channels, time, height, width)`` for torchvision).
"""

import functools
import importlib.util
import json
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from videokit import cli
from videokit.weights import import_weights, read_state_dict
from videokit.weights.torchvision_video import recognise

torch = pytest.importorskip("torch")
if importlib.util.find_spec("torchvision") is None:
    pytest.skip("torchvision is not installed", allow_module_level=True)

ARCHITECTURES = ("r3d_18", "mc3_18", "r2plus1d_18")
ATOL = 1e-4
REFERENCE = pathlib.Path(__file__).with_name("torchvision_reference.py")
# 8x32x32: every stride-2 convolution meets an even size, where PyTorch's padding and Keras's
# "same" differ; 5x29x27: odd sizes, and clips of another length and shape than trained on.
CLIPS = [[2, 8, 32, 32], [2, 5, 29, 27]]


def make_references(folder, cases):
    """``{name: (state dict file, {"clips0": ..., "logits0": ..., "parameters": ...})}`` of torchvision's networks."""
    done = subprocess.run([sys.executable, str(REFERENCE), str(folder), json.dumps(cases)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return {case["name"]: (folder / f"{case['name']}.pth", dict(np.load(folder / f"{case['name']}.npz")))
            for case in cases}


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    cases = [{"name": name, "architecture": name, "layers": [1, 1, 1, 1], "num_classes": 5, "clips": CLIPS}
             for name in ARCHITECTURES]
    return make_references(tmp_path_factory.mktemp("torchvision"), cases)


@pytest.fixture(scope="module")
def imported(references):
    """The imported model of each architecture, built once (building is slow on JAX)."""
    return functools.cache(lambda name: import_weights(references[name][0], architecture=name))


def _log_softmax(logits):
    logits = logits.astype("float64")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def assert_same_logits(keras_model, clips, expected):
    """Check the model's logits and log-probabilities against torchvision's; return the largest difference."""
    features = keras.Model(keras_model.input, keras_model.get_layer("avg_pool").output)(clips)
    head = keras_model.get_layer("predictions")
    logits = keras.ops.convert_to_numpy(features) @ keras.ops.convert_to_numpy(head.kernel)
    logits += keras.ops.convert_to_numpy(head.bias)
    log_probabilities = np.log(keras.ops.convert_to_numpy(keras_model(clips)).astype("float64"))
    np.testing.assert_allclose(logits, expected, rtol=0, atol=ATOL)
    np.testing.assert_allclose(log_probabilities, _log_softmax(expected), rtol=0, atol=ATOL)
    return max(np.abs(logits - expected).max(), np.abs(log_probabilities - _log_softmax(expected)).max())


def _modified(references, name, folder, change):
    """A copy of a reference state dict, changed by ``change(state)``, saved as a .pth file."""
    state = torch.load(references[name][0], weights_only=True)
    change(state)
    path = folder / f"{name}.pth"
    torch.save(state, path)
    return path


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_imported_weights_give_torchvisions_logits(architecture, references, imported):
    expected = references[architecture][1]
    model = imported(architecture)
    assert model.name == architecture and model.input_shape == (None, None, None, None, 3)
    assert model.output_shape == (None, 5)
    for index in range(len(CLIPS)):
        difference = assert_same_logits(model, expected[f"clips{index}"], expected[f"logits{index}"])
        print(f"{keras.backend.backend()} {architecture} {CLIPS[index]}: largest difference {difference:.2e}")


def test_keras_same_padding_would_not_give_torchvisions_logits(references, imported):
    from videokit.models import r3d

    expected = references["r3d_18"][1]
    model = imported("r3d_18")
    with_same_padding = r3d((None, None, None, 3), 5, preset="torchvision", padding="same", blocks_per_stage=(1,) * 4)
    with_same_padding.set_weights(model.get_weights())
    with pytest.raises(AssertionError):
        assert_same_logits(with_same_padding, expected["clips0"], expected["logits0"])


def test_the_command_line_writes_a_keras_file_that_gives_the_same_outputs(references, tmp_path, capsys):
    path, expected = references["r2plus1d_18"]
    output = tmp_path / "r2plus1d_18.keras"
    assert cli.main(["import-weights", str(path), "--architecture", "r2plus1d_18", "--output", str(output)]) == 0
    assert "r2plus1d_18" in capsys.readouterr().out
    assert_same_logits(keras.saving.load_model(output), expected["clips1"], expected["logits1"])


@pytest.mark.backend_independent  # names and shapes, checked in NumPy: the same on every backend
def test_recognise_tells_the_three_apart_from_their_weight_names_and_shapes(references):
    found = {name: recognise(read_state_dict(references[name][0])) for name in ARCHITECTURES}
    assert found == {name: name for name in ARCHITECTURES}
    assert recognise({"fc.weight": np.zeros((5, 512))}) is None


@pytest.mark.backend_independent  # names and shapes, checked in NumPy: the same on every backend
def test_the_wrong_architecture_is_refused_with_the_right_one(references):
    with pytest.raises(ValueError, match=r"these are mc3_18's weights, not r3d_18's; pass architecture='mc3_18'"):
        import_weights(references["mc3_18"][0], architecture="r3d_18")


@pytest.mark.backend_independent  # names and shapes, checked in NumPy: the same on every backend
def test_a_missing_weight_is_named(references, tmp_path):
    path = _modified(references, "r3d_18", tmp_path, lambda state: state.pop("layer3.0.downsample.1.running_var"))
    with pytest.raises(ValueError, match=r"not a r3d_18 checkpoint; it has no weight 'layer3.0.downsample.1.running_var'"):
        import_weights(path, architecture="r3d_18")


@pytest.mark.backend_independent  # names and shapes, checked in NumPy: the same on every backend
def test_a_mis_shaped_weight_is_named_with_both_shapes(references, tmp_path):
    def paper_middle_channels(state):  # the paper's M = 288 where torchvision's block keeps 230
        state["layer2.0.conv2.0.3.weight"] = torch.zeros(128, 288, 3, 1, 1)

    path = _modified(references, "r2plus1d_18", tmp_path, paper_middle_channels)
    with pytest.raises(ValueError, match=r"layer2.0.conv2.0.3.weight has shape \(128, 288, 3, 1, 1\); .* needs "
                                         r"\(128, 230, 3, 1, 1\)"):
        import_weights(path, architecture="r2plus1d_18")


@pytest.mark.backend_independent  # names and shapes, checked in NumPy: the same on every backend
def test_weights_the_model_does_not_use_are_refused(references, tmp_path):
    def extra(state):
        state["layer4.0.conv3.0.weight"] = torch.zeros(512, 512, 1, 1, 1)

    path = _modified(references, "mc3_18", tmp_path, extra)
    with pytest.raises(ValueError, match=r"holds 1 weights the model does not use, e.g. \['layer4.0.conv3.0.weight'\]"):
        import_weights(path, architecture="mc3_18")


@pytest.mark.backend_independent  # names and shapes, checked in NumPy: the same on every backend
def test_a_data_parallel_state_dict_imports(references, tmp_path):
    def prefixed(state):
        for name in list(state):
            state[f"module.{name}"] = state.pop(name)

    path, expected = references["mc3_18"]
    model = import_weights(_modified(references, "mc3_18", tmp_path, prefixed), architecture="mc3_18")
    assert_same_logits(model, expected["clips0"], expected["logits0"])


@pytest.mark.slow
def test_the_full_18_layer_networks_import_with_400_classes(tmp_path):
    cases = [{"name": name, "architecture": name, "layers": [2, 2, 2, 2], "num_classes": 400,
              "clips": [[1, 8, 32, 32]]} for name in ARCHITECTURES]
    for name, (path, expected) in make_references(tmp_path, cases).items():
        model = import_weights(path, architecture=name)
        assert sum(int(np.prod(weight.shape)) for weight in model.trainable_weights) == expected["parameters"]
        assert model.output_shape == (None, 400)
        difference = assert_same_logits(model, expected["clips0"], expected["logits0"])
        print(f"{keras.backend.backend()} {name} full size: largest difference {difference:.2e}")
