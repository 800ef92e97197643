import keras
import numpy as np
import pytest

from tests.conftest import assert_keras_file_round_trip
from videokit.layers import ClassToken, SpaceTimePositionEmbedding


def numpy_of(tensor):
    return keras.ops.convert_to_numpy(tensor)


@pytest.mark.parametrize("class_token", [False, True])
def test_joint_mode_adds_one_learned_vector_per_token(class_token):
    tokens = (
        np.random.default_rng(0)
        .normal(size=(2, 3 * 4 + class_token, 5))
        .astype("float32")
    )
    layer = SpaceTimePositionEmbedding(3, 4, mode="joint", class_token=class_token)
    outputs = numpy_of(layer(tokens))
    table = numpy_of(layer.joint)
    assert table.shape == (12, 5)
    if class_token:
        table = np.concatenate([numpy_of(layer.class_position), table])
    np.testing.assert_allclose(outputs, tokens + table, atol=1e-6)
    assert layer.count_params() == (12 + class_token) * 5


def test_separable_mode_adds_space_of_s_plus_time_of_t():
    frames, patches, dim = 3, 4, 5
    tokens = (
        np.random.default_rng(0)
        .normal(size=(2, 1 + frames * patches, dim))
        .astype("float32")
    )
    layer = SpaceTimePositionEmbedding(
        frames, patches, mode="separable", class_token=True
    )
    outputs = numpy_of(layer(tokens))
    space, time = numpy_of(layer.space), numpy_of(layer.time)
    assert space.shape == (patches, dim) and time.shape == (frames, dim)
    np.testing.assert_allclose(
        outputs[:, 0], tokens[:, 0] + numpy_of(layer.class_position)[0], atol=1e-6
    )
    for t in range(frames):
        for s in range(patches):
            token = 1 + t * patches + s
            np.testing.assert_allclose(
                outputs[:, token], tokens[:, token] + space[s] + time[t], atol=1e-6
            )
    assert layer.count_params() == (patches + frames + 1) * dim


@pytest.mark.parametrize(
    "mode, params", [("joint", 8 * 16 * 32), ("separable", (8 + 16) * 32)]
)
def test_shapes_and_weight_counts(mode, params):
    layer = SpaceTimePositionEmbedding(8, 16, mode=mode)
    assert tuple(layer(np.zeros((2, 128, 32), dtype="float32")).shape) == (2, 128, 32)
    assert layer.count_params() == params


def test_rejects_a_token_count_that_does_not_match():
    expected = r"^SpaceTimePositionEmbedding expects tokens \(batch, 13, embed_dim\): 3 frames x 4 patches \+ 1 class token; got shape \(2, 12, 5\)\.$"
    with pytest.raises(ValueError, match=expected):
        SpaceTimePositionEmbedding(3, 4, class_token=True)(
            np.zeros((2, 12, 5), dtype="float32")
        )


@pytest.mark.parametrize(
    "arguments", [{"num_frames": 0}, {"num_patches": 2.0}, {"mode": "divided"}]
)
def test_rejects_bad_arguments(arguments):
    with pytest.raises(ValueError, match="^SpaceTimePositionEmbedding expects"):
        SpaceTimePositionEmbedding(**{"num_frames": 2, "num_patches": 2, **arguments})


def test_class_token_is_one_learned_vector_before_every_sequence():
    tokens = np.random.default_rng(0).normal(size=(3, 4, 5)).astype("float32")
    layer = ClassToken(initializer="random_normal")
    outputs = numpy_of(layer(tokens))
    assert outputs.shape == (3, 5, 5)
    np.testing.assert_allclose(outputs[:, 1:], tokens)
    np.testing.assert_allclose(
        outputs[:, 0], np.broadcast_to(numpy_of(layer.token)[0, 0], (3, 5))
    )


def test_keras_file_round_trip(tmp_path):
    inputs = keras.Input((12, 5))
    x = ClassToken(initializer="random_normal", name="cls")(inputs)
    x = SpaceTimePositionEmbedding(
        3, 4, mode="separable", class_token=True, name="positions"
    )(x)
    model = keras.Model(inputs, x)
    for layer_name in ("cls", "positions"):
        layer = model.get_layer(layer_name)
        assert (
            type(layer).from_config(layer.get_config()).get_config()
            == layer.get_config()
        )
    tokens = np.random.default_rng(0).normal(size=(2, 12, 5)).astype("float32")
    assert_keras_file_round_trip(model, tokens, tmp_path / "positions.keras")
