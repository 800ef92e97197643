import keras
import numpy as np
import pytest

from videokit.layers import NonLocalBlock

ATOL = 1e-5  # float32 softmax and matrix products over a few dozen positions
BN_EPSILON = 1e-3  # keras.layers.BatchNormalization default


def numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture
def clip():
    return np.random.default_rng(0).normal(size=(2, 2, 4, 4, 6)).astype("float32")


def set_random_weights(block, seed=1):
    """Non-zero weights everywhere; returns them by sub-layer name as NumPy arrays."""
    rng = np.random.default_rng(seed)
    weights = {}
    for layer in (block.theta, block.phi, block.g, block.w_z):
        values = [0.5 * rng.normal(size=w.shape).astype("float32") for w in layer.weights]
        layer.set_weights(values)
        weights[layer.name] = values
    if block.batch_norm is not None:
        channels = block.batch_norm.gamma.shape[0]
        values = [
            rng.uniform(0.5, 1.5, channels).astype("float32"),  # gamma
            rng.normal(size=channels).astype("float32"),  # beta
            rng.normal(size=channels).astype("float32"),  # moving mean
            rng.uniform(0.5, 2.0, channels).astype("float32"),  # moving variance
        ]
        block.batch_norm.set_weights(values)
        weights["batch_norm"] = values
    return weights


def pool_2x2(x):
    """2x2 max pooling over (height, width) of (batch, time, height, width, channels)."""
    b, t, h, w, c = x.shape
    return x.reshape(b, t, h // 2, 2, w // 2, 2, c).max(axis=(3, 5))


def non_local_by_hand(x, weights, sub_sample=False):
    def project(name, values):
        kernel, bias = weights[name]
        return values @ kernel + bias

    theta, phi, g = (project(name, x) for name in ("theta", "phi", "g"))
    if sub_sample:
        phi, g = pool_2x2(phi), pool_2x2(g)
    theta, phi, g = (v.reshape(len(x), -1, v.shape[-1]) for v in (theta, phi, g))
    scores = theta @ phi.transpose(0, 2, 1)
    attention = np.exp(scores - scores.max(axis=-1, keepdims=True))
    attention /= attention.sum(axis=-1, keepdims=True)
    y = (attention @ g).reshape(x.shape[:-1] + (g.shape[-1],))
    z = project("w_z", y)
    if "batch_norm" in weights:
        gamma, beta, mean, variance = weights["batch_norm"]
        z = (z - mean) / np.sqrt(variance + BN_EPSILON) * gamma + beta
    return x + z, attention


@pytest.mark.parametrize("use_batch_norm", [True, False])
@pytest.mark.parametrize("shape", [(2, 2, 4, 4, 6), (2, 4, 4, 6), (2, 5, 6)])
def test_a_fresh_block_is_the_identity(shape, use_batch_norm):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    block = NonLocalBlock(use_batch_norm=use_batch_norm, sub_sample=True)
    np.testing.assert_array_equal(numpy(block(x)), x)
    np.testing.assert_array_equal(numpy(block(x, training=True)), x)


@pytest.mark.parametrize("use_batch_norm", [True, False])
@pytest.mark.parametrize("sub_sample", [False, True])
def test_matches_the_embedded_gaussian_by_hand(clip, use_batch_norm, sub_sample):
    block = NonLocalBlock(inner_channels=4, use_batch_norm=use_batch_norm, sub_sample=sub_sample)
    block.build(clip.shape)
    weights = set_random_weights(block)
    output, attention = block(clip, return_attention=True)
    expected_output, expected_attention = non_local_by_hand(clip, weights, sub_sample)
    positions = 2 * 4 * 4
    assert attention.shape == (2, positions, positions // 4 if sub_sample else positions)
    np.testing.assert_allclose(numpy(attention), expected_attention, atol=ATOL)
    np.testing.assert_allclose(numpy(output), expected_output, atol=ATOL)
    np.testing.assert_allclose(numpy(attention).sum(axis=-1), 1.0, atol=ATOL)


def test_inner_channels_default_to_half_the_channels(clip):
    block = NonLocalBlock()
    block.build(clip.shape)
    assert block.theta.kernel.shape == (6, 3)
    assert block.w_z.kernel.shape == (3, 6)


def test_return_attention_layer_argument_and_call_override(clip):
    block = NonLocalBlock(return_attention=True)
    output, attention = block(clip)
    assert output.shape == clip.shape and attention.shape == (2, 32, 32)
    assert block(clip, return_attention=False).shape == clip.shape


@pytest.mark.parametrize("shape", [(2, 6), (2, 1, 2, 4, 4, 6)])
def test_wrong_rank_raises(shape):
    with pytest.raises(ValueError, match=r"\(batch, time, height, width, channels\)"):
        NonLocalBlock()(np.zeros(shape, "float32"))


def test_non_positive_inner_channels_raise():
    with pytest.raises(ValueError, match="inner_channels"):
        NonLocalBlock(inner_channels=0)


def test_config_and_keras_file_round_trip(clip, tmp_path):
    block = NonLocalBlock(inner_channels=4, sub_sample=True, name="non_local")
    assert NonLocalBlock.from_config(block.get_config()).get_config() == block.get_config()
    inputs = keras.Input(clip.shape[1:])
    model = keras.Model(inputs, block(inputs))
    set_random_weights(block)
    model.save(tmp_path / "non_local.keras")
    loaded = keras.models.load_model(tmp_path / "non_local.keras")
    assert loaded.get_layer("non_local").get_config() == block.get_config()
    np.testing.assert_allclose(numpy(loaded(clip)), numpy(model(clip)), atol=0)
