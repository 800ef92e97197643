import keras
import numpy as np
import pytest

from tests.conftest import assert_keras_file_round_trip
from videokit import benchmark
from videokit.layers import TubeletEmbedding


def numpy_tubelets(clips, kernel, bias, patch_size):
    """Cut non-overlapping tubelets, flatten each, multiply by the flattened kernel, add the bias."""
    batch, time, height, width, channels = clips.shape
    t, h, w = patch_size
    grid = clips.reshape(batch, time // t, t, height // h, h, width // w, w, channels)
    tubelets = grid.transpose(
        0, 1, 3, 5, 2, 4, 6, 7
    )  # (batch, n_t, n_h, n_w, t, h, w, channels)
    vectors = tubelets.reshape(batch, -1, t * h * w * channels)
    return vectors @ kernel.reshape(t * h * w * channels, -1) + bias


@pytest.mark.parametrize("patch_size", [(2, 4, 4), (1, 4, 2), 2])
def test_equals_cutting_flattening_and_projecting_the_tubelets(patch_size):
    rng = np.random.default_rng(0)
    clips = rng.normal(size=(2, 4, 8, 8, 3)).astype("float32")
    layer = TubeletEmbedding(5, patch_size=patch_size, bias_initializer="random_normal")
    tokens = keras.ops.convert_to_numpy(layer(clips))
    kernel = keras.ops.convert_to_numpy(layer.projection.kernel)
    bias = keras.ops.convert_to_numpy(layer.projection.bias)
    expected = numpy_tubelets(clips, kernel, bias, layer.patch_size)
    assert (
        tokens.shape
        == expected.shape
        == (2, int(np.prod(layer.grid_shape(clips.shape))), 5)
    )
    np.testing.assert_allclose(tokens, expected, atol=1e-5)


def test_tokens_are_in_time_major_order():
    clips = np.zeros((1, 4, 4, 4, 1), dtype="float32")
    clips[0, 2:, 2:, :2] = 1.0  # tubelet (t=1, h=1, w=0) of a 2x2x2 grid
    layer = TubeletEmbedding(1, patch_size=2, kernel_initializer="ones")
    tokens = keras.ops.convert_to_numpy(layer(clips))[0, :, 0]
    assert np.flatnonzero(tokens).tolist() == [1 * 4 + 1 * 2 + 0]


@pytest.mark.parametrize("shape", [(2, 5, 8, 8, 3), (2, 4, 8, 8), (2, 4, 2, 8, 3)])
def test_rejects_clips_the_tubelets_do_not_tile(shape):
    with pytest.raises(
        ValueError,
        match=r"^TubeletEmbedding expects clips .* multiples of patch_size=\(2, 4, 4\); got shape",
    ):
        TubeletEmbedding(4, patch_size=(2, 4, 4))(np.zeros(shape, dtype="float32"))


@pytest.mark.parametrize(
    "arguments",
    [
        {"embed_dim": 0},
        {"embed_dim": 4, "patch_size": (2, 4)},
        {"embed_dim": 4, "patch_size": 0},
    ],
)
def test_rejects_bad_arguments(arguments):
    with pytest.raises(ValueError, match="^TubeletEmbedding expects"):
        TubeletEmbedding(**arguments)


def test_keras_file_round_trip(tmp_path):
    inputs = keras.Input((4, 8, 8, 3))
    model = keras.Model(
        inputs, TubeletEmbedding(6, patch_size=(2, 4, 4), name="tubelets")(inputs)
    )
    config = model.get_layer("tubelets").get_config()
    assert TubeletEmbedding.from_config(config).get_config() == config
    clips = np.random.default_rng(0).normal(size=(2, 4, 8, 8, 3)).astype("float32")
    assert_keras_file_round_trip(model, clips, tmp_path / "tubelets.keras")


def test_counts_its_multiply_adds_for_the_benchmark():
    inputs = keras.Input((4, 8, 8, 3))
    model = keras.Model(inputs, TubeletEmbedding(6, patch_size=(2, 4, 4))(inputs))
    assert benchmark.count_macs(model) == (2 * 2 * 2) * (2 * 4 * 4 * 3) * 6
