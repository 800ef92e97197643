import math

import keras
import numpy as np
import pytest

from tests.conftest import assert_keras_file_round_trip
from videokit import benchmark
from videokit.layers import (
    DividedSpaceTimeBlock,
    MultiHeadSelfAttention,
    TransformerBlock,
)

# ------------------------------------------------------------ NumPy by hand


def weights_of(layer):
    """Every weight of ``layer`` by path, e.g. ``{"attention/query/kernel": array}``."""
    prefix = len(layer.path) + 1
    return {
        weight.path[prefix:]: keras.ops.convert_to_numpy(weight)
        for weight in layer.weights
    }


def dense(w, name, x):
    return x @ w[f"{name}/kernel"] + w[f"{name}/bias"]


def softmax(scores):
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return scores / scores.sum(axis=-1, keepdims=True)


def numpy_attention(w, name, x, heads):
    """Multi-head self-attention of ``x`` (sequences, tokens, dim); returns the outputs and the maps."""
    sequences, tokens, dim = x.shape
    q, k, v = (
        dense(w, f"{name}/{part}", x)
        .reshape(sequences, tokens, heads, -1)
        .transpose(0, 2, 1, 3)
        for part in ("query", "key", "value")
    )
    maps = softmax(q @ k.transpose(0, 1, 3, 2) / math.sqrt(dim // heads))
    mixed = (maps @ v).transpose(0, 2, 1, 3).reshape(sequences, tokens, dim)
    return dense(w, f"{name}/output", mixed), maps


def layer_norm(w, name, x, epsilon=1e-6):
    mean, variance = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * w[f"{name}/gamma"] + w[
        f"{name}/beta"
    ]


def gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def mlp_residual(w, x):
    return x + dense(
        w, "mlp_output", gelu(dense(w, "mlp_hidden", layer_norm(w, "mlp_norm", x)))
    )


def numpy_divided_block(w, x, frames, heads):
    """TimeSformer's block with the reshapes written out (time-major tokens after one class token)."""
    batch, tokens, dim = x.shape
    patches = (tokens - 1) // frames
    cls, grid = x[:, :1], x[:, 1:].reshape(batch, frames, patches, dim)
    temporal_out, temporal_maps = numpy_attention(
        w,
        "temporal_attention",
        layer_norm(
            w, "temporal_norm", grid.transpose(0, 2, 1, 3).reshape(-1, frames, dim)
        ),
        heads,
    )
    grid = grid + dense(
        w,
        "temporal_dense",
        temporal_out.reshape(batch, patches, frames, dim).transpose(0, 2, 1, 3),
    )
    spatial_out = np.zeros((batch, frames, 1 + patches, dim))
    spatial_maps = np.zeros((batch, frames, heads, 1 + patches, 1 + patches))
    for b in range(batch):
        for t in range(frames):
            frame = np.concatenate([cls[b], grid[b, t]])[None]
            out, maps = numpy_attention(
                w, "spatial_attention", layer_norm(w, "spatial_norm", frame), heads
            )
            spatial_out[b, t], spatial_maps[b, t] = out[0], maps[0]
    cls = cls + spatial_out[:, :, :1].mean(axis=1)
    grid = grid + spatial_out[:, :, 1:]
    outputs = mlp_residual(
        w, np.concatenate([cls, grid.reshape(batch, frames * patches, dim)], axis=1)
    )
    return (
        outputs,
        temporal_maps.reshape(batch, patches, heads, frames, frames),
        spatial_maps,
    )


# ------------------------------------------------------------ the tests


def random_weights(layer, seed=0):
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        weight.assign(rng.normal(scale=0.3, size=weight.shape).astype("float32"))


def tokens(shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("return_attention_scores", [False, True])
def test_attention_equals_numpy_multi_head_attention(return_attention_scores):
    x = tokens((3, 7, 8))
    layer = MultiHeadSelfAttention(num_heads=2)
    layer.build(x.shape)
    random_weights(layer)
    expected, expected_maps = numpy_attention(
        {f"attention/{k}": v for k, v in weights_of(layer).items()}, "attention", x, 2
    )
    got = layer(x, return_attention_scores=return_attention_scores)
    if return_attention_scores:
        got, maps = got
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(maps), expected_maps, atol=1e-5
        )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), expected, atol=1e-4)


def test_joint_block_equals_numpy_pre_norm_block():
    x = tokens((2, 9, 8))
    block = TransformerBlock(num_heads=4, mlp_dim=16)
    block.build(x.shape)
    random_weights(block)
    w = weights_of(block)
    attended, maps = numpy_attention(
        w, "attention", layer_norm(w, "attention_norm", x), 4
    )
    expected = mlp_residual(w, x + attended)
    got, got_maps = block(x, return_attention_scores=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), expected, atol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got_maps), maps, atol=1e-5)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(block(x)), expected, atol=1e-4
    )  # the fused path


def test_divided_block_equals_the_reshapes_by_hand():
    frames, patches = 3, 4
    x = tokens((2, 1 + frames * patches, 8))
    block = DividedSpaceTimeBlock(num_heads=2, mlp_dim=16, num_frames=frames)
    block.build(x.shape)
    random_weights(block)
    expected, temporal_maps, spatial_maps = numpy_divided_block(
        weights_of(block), x.astype("float64"), frames, 2
    )
    got, (got_temporal, got_spatial) = block(x, return_attention_scores=True)
    assert got_temporal.shape == (2, patches, 2, frames, frames)
    assert got_spatial.shape == (2, frames, 2, 1 + patches, 1 + patches)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), expected, atol=1e-4)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(got_temporal), temporal_maps, atol=1e-5
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(got_spatial), spatial_maps, atol=1e-5
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(block(x)), expected, atol=1e-4
    )  # the fused path


def test_attention_maps_rows_sum_to_one():
    x = tokens((2, 1 + 3 * 4, 8))
    _, maps = TransformerBlock(num_heads=2, mlp_dim=16)(x, return_attention_scores=True)
    _, (temporal, spatial) = DividedSpaceTimeBlock(2, 16, num_frames=3)(
        x, return_attention_scores=True
    )
    for attention in (maps, temporal, spatial):
        attention = keras.ops.convert_to_numpy(attention)
        assert attention.min() >= 0
        np.testing.assert_allclose(attention.sum(axis=-1), 1.0, atol=1e-5)


def test_weight_counts_of_a_vit_base_block():
    dim, mlp = 768, 3072
    joint = TransformerBlock(num_heads=12, mlp_dim=mlp)
    joint.build((None, 197, dim))
    attention = 4 * (dim * dim + dim)
    mlp_weights = dim * mlp + mlp + mlp * dim + dim
    assert joint.count_params() == 2 * 2 * dim + attention + mlp_weights == 7_087_872
    divided = DividedSpaceTimeBlock(num_heads=12, mlp_dim=mlp, num_frames=8)
    divided.build((None, 1 + 8 * 196, dim))
    # One more attention, its layer normalisation and the Dense after the temporal attention.
    assert (
        divided.count_params()
        == joint.count_params() + attention + 2 * dim + dim * dim + dim
        == 10_042_368
    )


@pytest.mark.parametrize(
    "layer, shape, message",
    [
        (
            MultiHeadSelfAttention(3),
            (2, 5, 8),
            "embed_dim divisible by num_heads=3; got embed_dim=8",
        ),
        (TransformerBlock(2, 16), (2, 5), r"tokens \(batch, tokens, embed_dim\)"),
        (
            DividedSpaceTimeBlock(2, 16, num_frames=3),
            (2, 12, 8),
            r"1 \+ num_frames \* num_patches.*num_frames=3",
        ),
    ],
)
def test_rejects_tokens_it_cannot_take(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer(np.zeros(shape, dtype="float32"))


@pytest.mark.parametrize(
    "arguments", [{"num_heads": 0, "mlp_dim": 4}, {"num_heads": 2, "mlp_dim": None}]
)
def test_rejects_bad_arguments(arguments):
    with pytest.raises(ValueError, match="^TransformerBlock expects"):
        TransformerBlock(**arguments)


def test_keras_file_round_trip(tmp_path):
    inputs = keras.Input((1 + 2 * 4, 8))
    x = DividedSpaceTimeBlock(2, 16, num_frames=2, name="divided")(inputs)
    x = TransformerBlock(2, 16, layer_norm_epsilon=1e-5, name="joint")(x)
    model = keras.Model(inputs, x)
    for name in ("divided", "joint"):
        layer = model.get_layer(name)
        assert (
            type(layer).from_config(layer.get_config()).get_config()
            == layer.get_config()
        )
    assert_keras_file_round_trip(model, tokens((2, 9, 8)), tmp_path / "blocks.keras")


def test_blocks_count_their_multiply_adds_for_the_benchmark():
    tokens, dim, mlp, frames, patches = 1 + 2 * 4, 8, 16, 2, 4
    inputs = keras.Input((tokens, dim))
    x = DividedSpaceTimeBlock(2, mlp, num_frames=frames)(inputs)
    model = keras.Model(inputs, TransformerBlock(2, mlp)(x))
    joint = 4 * tokens * dim * dim + 2 * tokens * tokens * dim + 2 * tokens * dim * mlp
    divided = (
        patches
        * (4 * frames * dim * dim + 2 * frames * frames * dim)  # time, per position
        + frames * patches * dim * dim  # the Dense after it
        + frames
        * (
            4 * (1 + patches) * dim * dim + 2 * (1 + patches) ** 2 * dim
        )  # space, per frame
        + 2 * tokens * dim * mlp
    )
    assert benchmark.count_macs(model) == joint + divided
