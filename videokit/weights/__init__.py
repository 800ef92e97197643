"""Pretrained weights a user already has, imported into videokit's models.

videokit downloads nothing. A user who has downloaded a checkpoint (a
Hugging Face model folder with ``config.json`` and ``model.safetensors`` or
``pytorch_model.bin``, or a torchvision ``.pth`` state dict) turns it into a
Keras model with `import_weights`, or on the command line with
``videokit import-weights PATH --output model.keras``. Each supported
architecture has one converter, ``convert(state_dict, config) -> keras.Model``,
where ``state_dict`` maps the checkpoint's names to NumPy arrays and ``config``
is the checkpoint's ``config.json`` (``None`` where it has none).

Example:

>>> model = import_weights("videomae-base-finetuned-kinetics")  # doctest: +SKIP
>>> model.save("videomae.keras")  # doctest: +SKIP
"""

import importlib
import json
import pathlib

from videokit.weights._files import read_state_dict  # noqa: F401 (public)

# Architecture name (a Hugging Face config's ``architectures[0]``, or a
# torchvision model's name) -> "module:converter".
CONVERTERS = {
    "VideoMAEForVideoClassification": "videokit.weights.videomae:convert",
    "TimesformerForVideoClassification": "videokit.weights.timesformer:convert",
    **{name: f"videokit.weights.torchvision_video:convert_{name}" for name in ("r3d_18", "mc3_18", "r2plus1d_18")},
}


def supported_architectures():
    """The architecture names `import_weights` takes, sorted."""
    return sorted(CONVERTERS)


def import_weights(path, architecture=None):
    """Build the videokit model of a checkpoint and load the checkpoint's weights into it.

    Args:
        path: a Hugging Face model folder (``config.json`` beside
            ``model.safetensors`` or ``pytorch_model.bin``), or one weights
            file (``.safetensors``, ``.pth``, ``.pt``, ``.bin``).
        architecture: one of `supported_architectures()`; read from the
            folder's ``config.json`` when not given, required for a lone file.

    Returns:
        A `keras.Model` that gives the checkpoint's outputs.

    Raises:
        ValueError: the path holds no weights, the architecture is not
            supported, or the weights do not fit it (the message names the file).
    """
    path = pathlib.Path(path)
    weights_file, config = _locate(path)
    architecture = architecture or _architecture_of(config, path)
    if architecture not in CONVERTERS:
        raise ValueError(
            f"{path}: videokit imports {supported_architectures()}; got architecture={architecture!r}."
        )
    module_name, function_name = CONVERTERS[architecture].split(":")
    convert = getattr(importlib.import_module(module_name), function_name)
    try:
        return convert(read_state_dict(weights_file), config)
    except KeyError as error:
        raise ValueError(
            f"{weights_file}: not a {architecture} checkpoint; it has no weight {error.args[0]!r}."
        ) from None


def _locate(path):
    if path.is_dir():
        config_file = path / "config.json"
        config = json.loads(config_file.read_text()) if config_file.exists() else None
        for name in ("model.safetensors", "pytorch_model.bin"):
            if (path / name).exists():
                return path / name, config
        raise ValueError(
            f"{path}: a Hugging Face model folder holds model.safetensors or pytorch_model.bin; found neither."
        )
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder.")
    return path, None


def _architecture_of(config, path):
    if not config or not config.get("architectures"):
        raise ValueError(
            f"{path}: cannot tell which architecture these weights are for; pass architecture= "
            f"(--architecture), one of {supported_architectures()}."
        )
    return config["architectures"][0]
