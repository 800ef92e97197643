"""The one table of videokit's models: what ``--model`` takes, and what each name builds.

Kept free of Keras, like `videokit.config`: ``videokit --help`` and
``videokit models`` read it without importing a backend. An entry names the
module and the builder function; `ModelEntry.build_function` imports them on
first use (in the style of timm's ``register_model``, with keras-hub's
presets as data).

Every builder follows one preset rule: ``preset=None`` builds the paper
(published) configuration, ``preset="small"`` one that trains in seconds on
two CPU cores, and every argument given explicitly overrides the preset.

Adding a model family is one module in ``videokit/models/`` and one
`register_model` call at the bottom of this file (see ``CONTRIBUTING.md``);
the contract test ``tests/test_model_contract.py`` then checks it.

Example:

>>> from videokit import registry
>>> registry.list_models("predictor")
('convlstm',)
>>> entry = registry.get_model("c3d")
>>> entry.task, entry.module, entry.builder
('classifier', 'videokit.models.conv3d', 'c3d')
"""

import dataclasses
import importlib

TASKS = ("classifier", "predictor", "generator", "pretraining")
PRESETS = ("paper", "small")  # every family has both; more are welcome

_MODELS = {}


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One model name and how to build it.

    Args:
        name: what ``--model`` takes, e.g. ``"c3d"``.
        task: one of `TASKS`.
        module: the module that defines the builder, e.g.
            ``"videokit.models.conv3d"``.
        builder: the builder function's name in ``module``, e.g. ``"c3d"``.
        presets: ``{preset name: one-line description}``; at least
            ``"paper"`` and ``"small"``.
        description: one line, for ``videokit models`` and the README.
    """

    name: str
    task: str
    module: str
    builder: str
    presets: dict = dataclasses.field(hash=False)
    description: str

    def build_function(self):
        """Import the builder's module (and so Keras) and return the builder.

        Returns:
            The builder function, e.g. `videokit.models.conv3d.c3d`.

        Example:

        >>> get_model("c3d").build_function().__name__  # doctest: +SKIP
        'c3d'
        """
        return getattr(importlib.import_module(self.module), self.builder)


def register_model(name, *, task, module, builder, presets, description):
    """Add a model to the registry.

    Args:
        name: what ``--model`` takes; lower case letters, digits and ``_``.
        task: one of `TASKS`.
        module: the module that defines the builder.
        builder: the builder function's name in ``module``.
        presets: ``{preset name: one-line description}``, with ``"paper"``
            (what ``preset=None`` builds) and ``"small"``.
        description: one line.

    Returns:
        The new `ModelEntry`.

    Raises:
        ValueError: a name already taken, an unknown task, a preset missing,
            or a description of more than one line.
    """
    if name in _MODELS:
        raise ValueError(f"model {name!r} is already registered (by {_MODELS[name].module}).")
    if not name.isidentifier() or name != name.lower():
        raise ValueError(f"model names are lower case letters, digits and '_'; got {name!r}.")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r} for model {name!r}; choose one of {', '.join(TASKS)}.")
    missing = [preset for preset in PRESETS if preset not in presets]
    if missing:
        raise ValueError(f"model {name!r} needs the presets {', '.join(PRESETS)}; {', '.join(missing)} missing.")
    for text in (description, *presets.values()):
        if not text or "\n" in text:
            raise ValueError(f"model {name!r}: descriptions are one line; got {text!r}.")
    entry = ModelEntry(name, task, module, builder, dict(presets), description)
    _MODELS[name] = entry
    return entry


def get_model(name):
    """The `ModelEntry` registered as ``name``.

    Raises:
        ValueError: ``unknown model 'x'; choose one of a, b, c.``
    """
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(_MODELS)}.")
    return _MODELS[name]


def list_models(task=None):
    """The registered names, in registration order; only those of ``task`` if given.

    Raises:
        ValueError: ``task`` is not ``None`` nor one of `TASKS`.
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    return tuple(name for name, entry in _MODELS.items() if task in (None, entry.task))


# ---------------------------------------------------------------- the models
# One entry per --model name. Presets: "paper" is what preset=None builds.

register_model(
    "cnn_lstm",
    task="classifier",
    module="videokit.models.cnn_rnn",
    builder="cnn_lstm",
    presets={
        "paper": "LRCN-like: 16x112x112 clips, 4 conv blocks up to 256 filters, 256-unit LSTM, 101 classes",
        "small": "8x32x32 clips, 8-16 filters, 32-unit LSTM, 8 classes",
    },
    description="2D CNN on every frame, then an LSTM or GRU over time (Donahue et al. 2015)",
)
register_model(
    "c3d",
    task="classifier",
    module="videokit.models.conv3d",
    builder="c3d",
    presets={
        "paper": "Sports-1M: 16x112x112 clips, 487 classes, 79,991,015 parameters",
        "small": "8x32x32 clips, 8-64 filters, 128-unit fc6/fc7, 8 classes",
    },
    description="C3D: eight 3x3x3 convolutions and two fully connected layers (Tran et al. 2015)",
)
register_model(
    "r2plus1d",
    task="classifier",
    module="videokit.models.conv3d",
    builder="r2plus1d",
    presets={
        "paper": "R(2+1)D-18 on Kinetics-400: 16x112x112 clips, 64-512 filters, 400 classes",
        "small": "8x32x32 clips, 8-64 filters, 8 classes",
        "torchvision": "torchvision's r2plus1d_18 (its M, padding, batch norm, Kinetics normalisation), for its weights",
    },
    description="R(2+1)D-18: the 18-layer ResNet with (2+1)D convolutions (Tran et al. 2018)",
)
register_model(
    "r3d",
    task="classifier",
    module="videokit.models.conv3d",
    builder="r3d",
    presets={
        "paper": "R3D-18 on Kinetics-400: 16x112x112 clips, 64-512 filters, 400 classes",
        "small": "8x32x32 clips, 8-64 filters, 8 classes",
        "torchvision": "torchvision's r3d_18 (its padding, batch norm, Kinetics normalisation), for its weights",
    },
    description="R3D-18: an 18-layer ResNet of full 3D convolutions (Tran et al. 2018)",
)
register_model(
    "mc3",
    task="classifier",
    module="videokit.models.conv3d",
    builder="mc3",
    presets={
        "paper": "MC3-18 on Kinetics-400: 16x112x112 clips, 64-512 filters, 400 classes",
        "small": "8x32x32 clips, 8-64 filters, 8 classes",
        "torchvision": "torchvision's mc3_18 (its padding, batch norm, Kinetics normalisation), for its weights",
    },
    description="MC3-18: R3D-18 with 2D (1x3x3) convolutions above the first stage (Tran et al. 2018)",
)
_FUSION_PRESETS = {
    "paper": "Sports-1M: 10x170x170 clips, 96-256-384-384-256 filters, two 4096-unit layers, 487 classes",
    "small": "8x32x32 clips, 16-32-64 filters, one 64-unit layer, 8 classes",
}
for _name, _description in (
    ("single_frame", "the middle frame through a 2D CNN: appearance only (Karpathy et al. 2014)"),
    ("early_fusion", "frames stacked on the channels before the first convolution (Karpathy et al. 2014)"),
    ("late_fusion", "first and last frames through one 2D tower, merged at the first FC layer (Karpathy et al. 2014)"),
    ("slow_fusion", "3D convolutions whose view of time grows layer by layer (Karpathy et al. 2014)"),
    ("multi_level_fusion", "pooled features of every depth of a 3D CNN, concatenated"),
):
    register_model(
        _name,
        task="classifier",
        module="videokit.models.fusion",
        builder=_name,
        presets=_FUSION_PRESETS,
        description=_description,
    )
register_model(
    "vivit",
    task="classifier",
    module="videokit.models.video_transformers",
    builder="vivit",
    presets={
        "paper": "ViViT-B/16x2 factorised encoder on Kinetics-400: 32x224x224 clips, 12 spatial + 4 temporal layers, 400 classes",
        "small": "8x32x32 clips, 2x8x8 tubelets, 32-d tokens, 2 + 2 layers of 2 heads, 8 classes",
    },
    description="ViViT factorised encoder: a transformer per frame, then one over time (Arnab et al. 2021)",
)
register_model(
    "timesformer",
    task="classifier",
    module="videokit.models.video_transformers",
    builder="timesformer",
    presets={
        "paper": "TimeSformer-B on Kinetics-400: 8x224x224 clips, 16x16 patches, 12 layers of 768, 400 classes",
        "small": "8x32x32 clips, 8x8 patches, 32-d tokens, 2 layers of 2 heads, 8 classes",
    },
    description="TimeSformer: divided space-time attention, time then space in every block (Bertasius et al. 2021)",
)
register_model(
    "videomae_classifier",
    task="classifier",
    module="videokit.models.videomae",
    builder="videomae_classifier",
    presets={
        "paper": "VideoMAE ViT-B fine-tuned on Kinetics-400: 16x224x224 clips, 2x16x16 tubelets, 12 layers of 768, 400 classes",
        "small": "8x32x32 clips, 2x8x8 tubelets, 32-d tokens, 2 layers of 2 heads, 8 classes",
    },
    description="VideoMAE's ViT encoder on every tubelet, mean-pooled; imports Hugging Face checkpoints (Tong et al. 2022)",
)
register_model(
    "causal_c3d",
    task="classifier",
    module="videokit.models.causal_conv3d",
    builder="causal_c3d",
    presets={
        "paper": "C3D's layout made causal (no published causal C3D): 16x112x112 clips, 64-512 filters, 4096-unit fc, 487 classes, 31,752,423 parameters",
        "small": "8x32x32 clips, 8-64 filters, 64-unit fc, 8 classes",
    },
    description="C3D made causal, MoViNet-style: causal 3D convolutions and a running mean; streams frame by frame",
)
register_model(
    "convlstm",
    task="predictor",
    module="videokit.models.convlstm",
    builder="convlstm_predictor",
    presets={
        "paper": "Moving MNIST (Shi et al. 2015): 64x64 frames, ConvLSTM 128-64-64, 5x5 kernels",
        "small": "32x32 frames, ConvLSTM 16-16, 3x3 kernels",
    },
    description="ConvLSTM that predicts the next frame at every step (Shi et al. 2015)",
)
register_model(
    "vgan",
    task="generator",
    module="videokit.models.gan",
    builder="vgan_generator",
    presets={
        "paper": "100-d code, 32 frames of 64x64, 512-256-128-64 filters",
        "small": "32-d code, 8 frames of 32x32, 16-filter base",
    },
    description="VGAN: a 3D foreground stream and a 2D background mixed by a mask (Vondrick et al. 2016)",
)
register_model(
    "mocogan",
    task="generator",
    module="videokit.models.gan",
    builder="mocogan_generator",
    presets={
        "paper": "16 frames of 64x64, 50-d content, 10-d motion codes, 64-filter base",
        "small": "8 frames of 32x32, 16-d content, 8-d motion codes, 16-filter base",
    },
    description="MoCoGAN-style: one content code, a GRU motion code per frame (after Tulyakov et al. 2018)",
)
register_model(
    "videomae",
    task="pretraining",
    module="videokit.models.videomae",
    builder="videomae",
    presets={
        "paper": "VideoMAE ViT-B on Kinetics-400: 16x224x224 clips, 2x16x16 tubelets, 12 layers of 768, decoder 4 of 384, 90% masked",
        "small": "8x32x32 clips, 2x8x8 tubelets, 32-d tokens, 2 layers; decoder 1 of 16, 75% masked",
    },
    description="VideoMAE: tube-masked autoencoder, the encoder sees the visible tubes only (Tong et al. 2022)",
)
del _name, _description
