"""Hugging Face TimeSformer checkpoints imported into videokit give the reference's logits.

Offline: the reference is built from a tiny config with random weights (no
download), saved as a Hugging Face folder or a lone state dict, imported, and
the logits (before softmax: the imported model has no softmax) compared.
"""

import json

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from videokit import cli  # noqa: E402
from videokit.models import timesformer  # noqa: E402
from videokit.weights import import_weights  # noqa: E402
from videokit.weights.timesformer import PIXEL_MEAN, PIXEL_STD, convert  # noqa: E402

TINY = {
    "image_size": 32,
    "patch_size": 8,
    "num_frames": 4,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "num_labels": 5,
}


def _reference(**overrides):
    """A ``TimesformerForVideoClassification`` with random weights, normalisations included."""
    torch.manual_seed(0)
    config = transformers.TimesformerConfig(**{**TINY, **overrides})
    model = transformers.TimesformerForVideoClassification(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "layernorm" in name and name.endswith("weight"):
                parameter.copy_(1 + 0.3 * torch.randn_like(parameter))
            else:
                parameter.copy_(0.3 * torch.randn_like(parameter))
    return model


def _clips(reference, batch=2, seed=1):
    config = reference.config
    shape = (batch, config.num_frames, config.image_size, config.image_size, 3)
    return np.random.default_rng(seed).uniform(0, 1, shape).astype("float32")


def _reference_logits(reference, clips):
    """The reference on the checkpoint's preprocessing of ``clips``, in its (B, T, C, H, W) layout."""
    pixels = (clips - np.array(PIXEL_MEAN, "float32")) / np.array(PIXEL_STD, "float32")
    with torch.no_grad():
        return reference(torch.from_numpy(pixels.transpose(0, 1, 4, 2, 3))).logits.numpy()


def _largest_difference(model, reference, clips):
    """Of the log-probabilities: the reference's logits up to one constant per clip."""
    ours = np.log(model.predict(clips, verbose=0))  # one compiled function: far faster on JAX than op by op
    logits = _reference_logits(reference, clips)
    theirs = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) - logits.max(-1, keepdims=True)
    assert ours.shape == theirs.shape
    return float(np.max(np.abs(ours - theirs)))


def test_a_hugging_face_folder_gives_the_reference_logits(tmp_path):
    reference = _reference()
    reference.save_pretrained(tmp_path)  # config.json + model.safetensors, as on the Hub
    model = import_weights(tmp_path)
    clips = _clips(reference)
    difference = _largest_difference(model, reference, clips)
    print(f"largest logit difference on {keras.backend.backend()}: {difference:.2e}")
    assert difference < 1e-4
    # A wrong mapping cannot hide: the logits are far from zero and differ between clips.
    logits = _reference_logits(reference, clips)
    assert np.abs(logits).max() > 0.5 and np.abs(logits[0] - logits[1]).max() > 0.1


def test_a_lone_state_dict_reads_its_sizes_from_the_weights(tmp_path):
    # Heads are not in the weights; a lone file is read as hidden_size / 64 heads.
    reference = _reference(hidden_size=64, num_attention_heads=1, num_hidden_layers=1, num_frames=2)
    path = tmp_path / "timesformer.pth"
    torch.save(reference.state_dict(), path)
    model = import_weights(path, architecture="TimesformerForVideoClassification")
    assert model.input_shape == (None, 2, 32, 32, 3) and model.output_shape == (None, 5)
    assert _largest_difference(model, reference, _clips(reference, batch=1)) < 1e-4


def test_the_command_line_writes_a_keras_file_with_the_same_logits(tmp_path):
    reference = _reference(num_hidden_layers=1)
    reference.save_pretrained(tmp_path / "checkpoint")
    output = tmp_path / "timesformer.keras"
    assert cli.main(["import-weights", str(tmp_path / "checkpoint"), "--output", str(output)]) == 0
    model = keras.saving.load_model(output)
    assert _largest_difference(model, reference, _clips(reference, batch=1)) < 1e-4


def _state_dict(reference):
    return {name: tensor.numpy() for name, tensor in reference.state_dict().items()}


def test_a_missing_or_misshapen_weight_is_named():
    reference = _reference(num_hidden_layers=1)
    config = reference.config.to_dict()
    weights = _state_dict(reference)
    missing = dict(weights)
    del missing["timesformer.encoder.layer.0.temporal_dense.weight"]
    with pytest.raises(KeyError, match="layer.0.temporal_dense.weight"):
        convert(missing, config)
    misshapen = dict(weights)
    misshapen["timesformer.embeddings.time_embeddings"] = np.zeros((1, 3, 32), "float32")
    with pytest.raises(ValueError, match=r"time_embeddings\[0\] gives position_embedding/time the shape \(3, 32\).*expects \(4, 32\)"):
        convert(misshapen, config)
    two_layers = _reference(num_hidden_layers=2)
    with pytest.raises(ValueError, match="1-layer TimeSformer of its config does not use: .*layer.1"):
        convert(_state_dict(two_layers), {**config, "num_hidden_layers": 1})


@pytest.mark.parametrize(
    "change, message",
    [
        ({"attention_type": "joint_space_time"}, "attention_type='divided_space_time'"),
        ({"qkv_bias": False}, "qkv_bias=True"),
        ({"hidden_act": "relu"}, "hidden_act='gelu'"),
    ],
)
def test_architectures_videokit_does_not_reproduce_are_refused(change, message):
    reference = _reference(num_hidden_layers=1)
    with pytest.raises(ValueError, match=message):
        convert(_state_dict(reference), {**reference.config.to_dict(), **change})


def test_the_builder_normalises_pixels_with_the_given_mean_and_std():
    model = timesformer(preset="small", depth=1, pixel_mean=0.45, pixel_std=[0.225] * 3)
    layer = model.get_layer("pixel_normalization")
    clips = np.full((1, 8, 32, 32, 3), 0.9, "float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(clips)), 2.0, rtol=1e-5)
    with pytest.raises(ValueError, match="pixel_mean and pixel_std to be both given"):
        timesformer(preset="small", pixel_mean=0.5)
    with pytest.raises(ValueError, match="pixel_std to be positive"):
        timesformer(preset="small", pixel_mean=0.5, pixel_std=0.0)


@pytest.mark.slow
def test_every_weight_of_the_published_base_architecture_maps(tmp_path):
    # facebook/timesformer-base-finetuned-k400's config.json is TimesformerConfig's defaults.
    torch.manual_seed(0)
    config = transformers.TimesformerConfig(num_labels=400)
    reference = transformers.TimesformerForVideoClassification(config)
    weights = _state_dict(reference)
    model = convert(weights, {**config.to_dict(), "architectures": ["TimesformerForVideoClassification"]})
    assert model.count_params() == sum(array.size for array in weights.values()) == 121_566_352
    assert model.input_shape == (None, 8, 224, 224, 3)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.get_layer("block11").spatial_attention.value_dense.kernel),
        weights["timesformer.encoder.layer.11.attention.attention.qkv.weight"][2 * 768:].T,
    )
