"""Hugging Face's VideoMAEForVideoClassification imported into videomae_classifier: the same logits, offline.

The reference models are built by ``transformers`` from a configuration with
random weights (nothing is downloaded); every weight, layer-norm scales and
the query/value biases included, is drawn at random so a wrong mapping shows.
"""

import json

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from videokit.models.videomae import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from videokit.weights import import_weights, read_state_dict  # noqa: E402
from videokit.weights.videomae import convert  # noqa: E402

FRAMES, SIZE = 4, 32


def tiny_config(**overrides):
    settings = dict(image_size=SIZE, patch_size=8, num_frames=FRAMES, tubelet_size=2, hidden_size=32,
                    num_hidden_layers=2, num_attention_heads=4, intermediate_size=48, num_labels=5,
                    architectures=["VideoMAEForVideoClassification"])
    return transformers.VideoMAEConfig(**{**settings, **overrides})


def reference_model(config):
    """A VideoMAEForVideoClassification with every parameter random (layer norms and biases too)."""
    torch.manual_seed(0)
    model = transformers.VideoMAEForVideoClassification(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("layernorm_before.weight") or name.endswith("layernorm_after.weight") or "norm.weight" in name:
                parameter.copy_(1.0 + 0.3 * torch.randn_like(parameter))
            else:
                parameter.copy_(0.2 * torch.randn_like(parameter))
    return model


def pixels(batch=2, seed=0):
    return np.random.default_rng(seed).uniform(size=(batch, FRAMES, SIZE, SIZE, 3)).astype("float32")


def reference_logits(model, clips):
    """The reference's logits on the clips normalised as its preprocessor does, in its (B, T, C, H, W) layout."""
    normalised = (clips - np.array(IMAGENET_MEAN, "float32")) / np.array(IMAGENET_STD, "float32")
    with torch.no_grad():
        return model(pixel_values=torch.from_numpy(normalised.transpose(0, 1, 4, 2, 3))).logits.numpy()


@pytest.mark.parametrize("head", [dict(use_mean_pooling=True), dict(use_mean_pooling=False, qv_bias=False)],
                         ids=["mean_pooling", "first_token_without_qv_bias"])
def test_a_saved_hugging_face_folder_imports_with_the_same_logits(tmp_path, head):
    reference = reference_model(tiny_config(**head))
    reference.save_pretrained(tmp_path)  # config.json and model.safetensors, as on the Hub
    clips = pixels()
    expected = reference_logits(reference, clips)

    probabilities = keras.ops.convert_to_numpy(import_weights(tmp_path)(clips))
    np.testing.assert_allclose(np.log(probabilities), torch.log_softmax(torch.from_numpy(expected), -1).numpy(),
                               atol=1e-4)
    config = json.loads((tmp_path / "config.json").read_text())
    logits = keras.ops.convert_to_numpy(convert(read_state_dict(tmp_path / "model.safetensors"), config,
                                                classifier_activation=None)(clips))
    difference = np.abs(logits - expected).max()
    print(f"{keras.backend.backend()}: largest logit difference {difference:.2e} (logits up to {np.abs(expected).max():.1f})")
    np.testing.assert_allclose(logits, expected, atol=1e-4)


def test_the_hubs_q_bias_and_v_bias_names_in_a_pytorch_bin_import_too(tmp_path):
    reference = reference_model(tiny_config())
    state = {name.replace("attention.attention.query.bias", "attention.attention.q_bias")
             .replace("attention.attention.value.bias", "attention.attention.v_bias"): tensor
             for name, tensor in reference.state_dict().items()}
    assert any(name.endswith("q_bias") for name in state)
    torch.save(state, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text(reference.config.to_json_string())
    clips = pixels(seed=1)
    model = convert(read_state_dict(tmp_path / "pytorch_model.bin"), json.loads((tmp_path / "config.json").read_text()),
                    classifier_activation=None)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(clips)), reference_logits(reference, clips), atol=1e-4)


def test_a_missing_or_misshapen_weight_is_named(tmp_path):
    reference = reference_model(tiny_config())
    state = {name: tensor.numpy() for name, tensor in reference.state_dict().items()}
    config = reference.config.to_dict()
    missing = {name: array for name, array in state.items() if "layer.1.output.dense.weight" not in name}
    with pytest.raises(KeyError, match="videomae.encoder.layer.1.output.dense.weight"):
        convert(missing, config)
    wrong = {**state, "fc_norm.bias": np.zeros(7, "float32")}
    with pytest.raises(ValueError, match=r"weight 'fc_norm.bias' has shape \(7,\); expected \(32,\)"):
        convert(wrong, config)
    extra = {**state, "decoder.head.weight": np.zeros((3, 3), "float32")}
    with pytest.raises(ValueError, match="does not: decoder.head.weight"):
        convert(extra, config)


@pytest.mark.slow
def test_the_full_size_base_checkpoint_maps_every_weight(tmp_path):
    """videomae-base-finetuned-kinetics' architecture (the config's defaults, 400 classes), as a lone file."""
    from safetensors.torch import save_file

    config = transformers.VideoMAEConfig(num_labels=400, architectures=["VideoMAEForVideoClassification"])
    reference = transformers.VideoMAEForVideoClassification(config).eval()
    path = tmp_path / "videomae-base-finetuned-kinetics.safetensors"
    save_file({name: tensor.contiguous() for name, tensor in reference.state_dict().items()}, str(path))
    with keras.device("cpu"):
        model = import_weights(path, architecture="VideoMAEForVideoClassification")
    assert model.input_shape == (None, 16, 224, 224, 3) and model.output_shape == (None, 400)
    hugging_face = sum(parameter.numel() for parameter in reference.parameters())
    assert hugging_face == 86_534_800
    assert model.count_params() == hugging_face + 12 * 768  # and the keys' zero biases


def test_videokit_import_weights_writes_a_keras_file_with_the_same_outputs(tmp_path):
    from videokit import cli

    reference = reference_model(tiny_config())
    reference.save_pretrained(tmp_path / "checkpoint")
    output = tmp_path / "videomae.keras"
    assert cli.main(["import-weights", str(tmp_path / "checkpoint"), "--output", str(output)]) == 0
    clips = pixels(seed=2)
    probabilities = keras.ops.convert_to_numpy(keras.saving.load_model(output)(clips))
    expected = torch.softmax(torch.from_numpy(reference_logits(reference, clips)), -1).numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
