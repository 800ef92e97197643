"""TEMPORARY stub of the model registry (replaced by the models branch)."""

import dataclasses
import importlib

TASKS = ("classifier", "predictor", "generator", "pretraining")
_ENTRIES = {}


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    name: str
    task: str
    module: str
    builder: str
    presets: dict
    description: str

    def build_function(self):
        return getattr(importlib.import_module(self.module), self.builder)


def register_model(name, *, task, module, builder, presets, description):
    _ENTRIES[name] = ModelEntry(name, task, module, builder, dict(presets), description)
    return _ENTRIES[name]


def get_model(name):
    if name not in _ENTRIES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(_ENTRIES)}.")
    return _ENTRIES[name]


def list_models(task=None):
    return tuple(name for name, entry in _ENTRIES.items() if task in (None, entry.task))


_SIZES = {"small": "trains in seconds on a CPU", "paper": "the published configuration"}
for _name, _module in [("cnn_lstm", "cnn_rnn"), ("c3d", "conv3d"), ("r3d", "conv3d"), ("r2plus1d", "conv3d"),
                       ("single_frame", "fusion"), ("early_fusion", "fusion"), ("late_fusion", "fusion"),
                       ("slow_fusion", "fusion"), ("multi_level_fusion", "fusion")]:
    register_model(_name, task="classifier", module=f"videokit.models.{_module}", builder=_name, presets=_SIZES,
                   description=_name)
register_model("convlstm", task="predictor", module="videokit.models.convlstm", builder="convlstm_predictor",
               presets=_SIZES, description="convlstm")
register_model("vgan", task="generator", module="videokit.models.gan", builder="vgan_generator", presets=_SIZES,
               description="vgan")
register_model("mocogan", task="generator", module="videokit.models.gan", builder="mocogan_generator",
               presets=_SIZES, description="mocogan")
