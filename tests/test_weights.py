"""videokit.weights: finding a checkpoint and refusing what it cannot import, in one line."""

import json

import numpy as np
import pytest

from videokit import cli
from videokit.weights import import_weights, read_state_dict


def test_a_folder_without_weights_is_named(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["VideoMAEForVideoClassification"]}))
    with pytest.raises(ValueError, match="model.safetensors or pytorch_model.bin"):
        import_weights(tmp_path)


def test_an_unsupported_architecture_is_refused_with_the_supported_ones(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    safetensors_numpy.save_file({"w": np.zeros(2, "float32")}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    with pytest.raises(ValueError, match="videokit imports .*got architecture='BertModel'"):
        import_weights(tmp_path)


def test_a_lone_file_needs_its_architecture(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "weights.safetensors"
    safetensors_numpy.save_file({"w": np.arange(3, dtype="float32")}, str(path))
    np.testing.assert_array_equal(read_state_dict(path)["w"], [0, 1, 2])
    with pytest.raises(ValueError, match="pass architecture="):
        import_weights(path)


def test_the_command_line_says_what_is_wrong_in_one_line(tmp_path, capsys):
    pytest.importorskip("safetensors")
    path = tmp_path / "weights.safetensors"
    path.write_bytes(b"not a checkpoint")
    assert cli.main(["import-weights", str(path), "--architecture", "x", "--output", str(tmp_path / "m.keras")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "weights.safetensors" in error
