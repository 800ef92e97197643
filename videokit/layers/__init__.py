"""Reusable video layers. Each lives in its own module and is imported on first use."""

import importlib

_LAYER_MODULES = {
    "Conv2Plus1D": "conv2plus1d",
    "FeatureFusion": "fusion",
    "NonLocalBlock": "nonlocal_block",
    "TemporalAttentionPooling": "attention",
}

__all__ = sorted(_LAYER_MODULES)


def __getattr__(name):
    if name in _LAYER_MODULES:
        module = importlib.import_module(f"videokit.layers.{_LAYER_MODULES[name]}")
        value = globals()[name] = getattr(module, name)
        return value
    raise AttributeError(f"module 'videokit.layers' has no attribute {name!r}")


def __dir__():
    return __all__
