"""Hugging Face's ``VideoMAEForVideoClassification`` checkpoints, imported into `videomae_classifier`.

Supported: the checkpoints of architecture ``VideoMAEForVideoClassification``
with exact GELU (``hidden_act: "gelu"``), e.g. MCG-NJU's fine-tuned VideoMAE
models on the Hugging Face Hub:

* ``MCG-NJU/videomae-base-finetuned-kinetics`` (ViT-B, Kinetics-400, 16x224x224),
* ``MCG-NJU/videomae-small-finetuned-kinetics`` (ViT-S: 384-d, 6 heads),
* ``MCG-NJU/videomae-large-finetuned-kinetics`` (ViT-L: 1024-d, 24 layers, 16 heads),
* ``MCG-NJU/videomae-huge-finetuned-kinetics`` (ViT-H: 1280-d, 32 layers, 16 heads),
* ``MCG-NJU/videomae-base-finetuned-ssv2`` (Something-Something v2, 174 classes),

and any other checkpoint of that architecture: its ``config.json`` gives the
clip size, tubelets, width, depth, heads, layer-norm epsilon, the biases of
queries and values (``qkv_bias``/``qv_bias``) and the head
(``use_mean_pooling``: the mean of the tokens through ``fc_norm``; else a
final layer normalisation and the first token). Both namings of the query and
value biases are read: ``attention.attention.q_bias``/``v_bias`` (the Hub's
files) and ``attention.attention.query.bias``/``value.bias`` (transformers 5).
The pretraining checkpoints (``VideoMAEForPreTraining``, e.g.
``MCG-NJU/videomae-base``) are not supported: their decoder has no videokit
counterpart that imports them yet.

The model takes clips of pixels in ``[0, 1]`` and normalises them inside
with ImageNet's mean and standard deviation, as the checkpoints'
``preprocessor_config.json`` (``VideoMAEImageProcessor``) does; so
``model(pixels)`` gives the probabilities of the checkpoint's
``softmax(logits)`` on ``(pixels - mean) / std``. Resize and crop clips to
the checkpoint's frame count and size (16 frames of 224x224 for the
Kinetics models) first. Tested offline: random-weight models built from their
configuration by ``transformers`` give the same logits (to 1e-4) on
TensorFlow, JAX and torch (``tests/test_weights_videomae.py``).

A lone weights file without ``config.json`` is read as the default
configuration (16 frames of 224x224, 64-d heads, epsilon 1e-12); width,
depth, tubelets, classes and the head are read from the weights.
"""

import numpy as np

from videokit.models.videomae import IMAGENET_MEAN, IMAGENET_STD, videomae_classifier

ARCHITECTURE = "VideoMAEForVideoClassification"
_PREFIX = "videomae.encoder.layer"


def convert(state_dict, config, classifier_activation="softmax"):
    """A `videomae_classifier` with the weights of a ``VideoMAEForVideoClassification`` checkpoint.

    Args:
        state_dict: ``{name: numpy array}``, the checkpoint's weights.
        config: the checkpoint's ``config.json`` as a dict, or ``None``.
        classifier_activation: ``"softmax"`` (probabilities) or ``None``
            (the checkpoint's logits).

    Returns:
        The Keras model, on clips ``(batch, frames, height, width, 3)`` of
        pixels in ``[0, 1]``.

    Raises:
        KeyError: a weight the architecture needs is missing (its name).
        ValueError: a weight of the wrong shape, weights left over that the
            architecture does not have, or a configuration videokit cannot
            reproduce.
    """
    state = _Weights(state_dict)
    settings = settings_of(state, config)
    model = videomae_classifier(**settings, classifier_activation=classifier_activation)
    _load_embedding(model, state)
    for index in range(settings["depth"]):
        _load_block(model.get_layer(f"encoder_block{index}"), state, f"{_PREFIX}.{index}")
    if settings["use_mean_pooling"]:
        _load_norm(model.get_layer("fc_norm"), state, "fc_norm")
    else:
        _load_norm(model.get_layer("encoder_norm"), state, "videomae.layernorm")
    _load_dense(model.get_layer("predictions"), state, "classifier")
    state.check_all_used()
    return model


def settings_of(state, config):
    """The `videomae_classifier` arguments that reproduce a checkpoint's architecture."""
    kernel = state.peek("videomae.embeddings.patch_embeddings.projection.weight")
    hidden, channels, tubelet, patch_h, patch_w = kernel.shape
    depth = 1 + max((int(name.split(".")[3]) for name in state.names if name.startswith(f"{_PREFIX}.")), default=-1)
    mlp_dim = state.peek(f"{_PREFIX}.0.intermediate.dense.weight").shape[0]
    num_classes = state.peek("classifier.weight").shape[0]
    config = dict(config or {})
    activation = config.get("hidden_act", "gelu")
    if activation != "gelu":
        raise ValueError(f"videomae_classifier's blocks use the exact GELU; the checkpoint's hidden_act is "
                         f"{activation!r}, expected 'gelu'.")
    height, width = _pair(config.get("image_size", 224))
    return {
        "input_shape": (config.get("num_frames", 16), height, width, channels),
        "num_classes": num_classes,
        "tubelet_size": (tubelet, patch_h, patch_w),
        "embed_dim": hidden,
        "depth": depth,
        "num_heads": config.get("num_attention_heads", hidden // 64),
        "mlp_dim": mlp_dim,
        "position_embedding": "sinusoidal",
        "use_mean_pooling": "fc_norm.weight" in state.names,
        "layer_norm_epsilon": config.get("layer_norm_eps", 1e-12),
        "pixel_mean": IMAGENET_MEAN if channels == 3 else 0.5,
        "pixel_std": IMAGENET_STD if channels == 3 else 0.5,
    }


def _pair(size):
    return (size, size) if isinstance(size, int) else tuple(size)


class _Weights:
    """The checkpoint's arrays, taken by name; remembers which were used."""

    def __init__(self, state_dict):
        self.arrays = dict(state_dict)
        self.names = set(self.arrays)
        self.used = set()

    def peek(self, name):
        if name not in self.arrays:
            raise KeyError(name)
        return self.arrays[name]

    def take(self, name):
        array = self.peek(name)
        self.used.add(name)
        return np.asarray(array, dtype="float32")

    def take_first(self, *names):
        """The first of ``names`` the checkpoint has, or ``None``."""
        for name in names:
            if name in self.arrays:
                return self.take(name)
        return None

    def check_all_used(self):
        left = sorted(self.names - self.used)
        if left:
            shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
            raise ValueError(f"the checkpoint has weights a {ARCHITECTURE} of this configuration does not: {shown}.")


def _assign(variable, array, name):
    expected = tuple(variable.shape)
    if tuple(array.shape) != expected:
        raise ValueError(f"weight {name!r} has shape {tuple(array.shape)}; expected {expected} (from the "
                         f"checkpoint's other weights and config.json).")
    variable.assign(array)


def _load_dense(layer, state, prefix, bias=True):
    """A ``torch.nn.Linear`` (weight ``(out, in)``) into a Keras ``Dense`` (kernel ``(in, out)``)."""
    _assign(layer.kernel, state.take(f"{prefix}.weight").T, f"{prefix}.weight")
    if bias:
        _assign(layer.bias, state.take(f"{prefix}.bias"), f"{prefix}.bias")


def _load_norm(layer, state, prefix):
    _assign(layer.gamma, state.take(f"{prefix}.weight"), f"{prefix}.weight")
    _assign(layer.beta, state.take(f"{prefix}.bias"), f"{prefix}.bias")


def _load_embedding(model, state):
    """``Conv3d`` weight ``(out, in, t, h, w)`` into ``Conv3D`` kernel ``(t, h, w, in, out)``."""
    projection = model.get_layer("tubelet_embedding").projection
    prefix = "videomae.embeddings.patch_embeddings.projection"
    _assign(projection.kernel, state.take(f"{prefix}.weight").transpose(2, 3, 4, 1, 0), f"{prefix}.weight")
    _assign(projection.bias, state.take(f"{prefix}.bias"), f"{prefix}.bias")


def _load_block(block, state, prefix):
    """One ``VideoMAELayer`` into a `videokit.layers.TransformerBlock`.

    The keys have no bias in VideoMAE: videokit's is set to zero, which
    changes nothing (a bias of the keys adds the same ``q . b`` to every
    score of a query, and the softmax ignores it).
    """
    attention, self_attention = block.attention, f"{prefix}.attention.attention"
    _load_norm(block.attention_norm, state, f"{prefix}.layernorm_before")
    for role, dense in (("query", attention.query_dense), ("key", attention.key_dense),
                        ("value", attention.value_dense)):
        _load_dense(dense, state, f"{self_attention}.{role}", bias=False)
        bias = state.take_first(f"{self_attention}.{role}.bias", f"{self_attention}.{role[0]}_bias")
        dim = dense.bias.shape[0]
        _assign(dense.bias, np.zeros(dim, "float32") if bias is None else bias, f"{self_attention}.{role}.bias")
    _load_dense(attention.output_dense, state, f"{prefix}.attention.output.dense")
    _load_norm(block.mlp_norm, state, f"{prefix}.layernorm_after")
    _load_dense(block.mlp_hidden, state, f"{prefix}.intermediate.dense")
    _load_dense(block.mlp_output, state, f"{prefix}.output.dense")
