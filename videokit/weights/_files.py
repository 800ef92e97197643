"""Reading a checkpoint's tensors into NumPy arrays."""

import numpy as np


def read_state_dict(path):
    """``{name: numpy array}`` from a ``.safetensors`` file or a PyTorch state dict.

    ``.safetensors`` files are read without PyTorch; other files are PyTorch
    pickles, read with ``torch.load(weights_only=True)``, which runs no code
    from the file.

    Raises:
        ValueError: the file cannot be read as either (the message names it).
    """
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        try:
            return load_file(str(path))
        except Exception as error:  # safetensors raises its own error types
            raise ValueError(f"{path}: not a readable safetensors file ({error}).") from None
    return _read_torch_file(path)


def _read_torch_file(path):
    try:
        import torch
    except ImportError:
        raise ValueError(
            f"{path}: a PyTorch checkpoint; reading it needs PyTorch (pip install torch), "
            "or convert it to .safetensors."
        ) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged or foreign file
        raise ValueError(f"{path}: not a PyTorch state dict ({type(error).__name__}: {error}).") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise ValueError(f"{path}: holds a {type(state).__name__}, not a state dict of tensors.")
    return {name: tensor.detach().float().numpy() if tensor.is_floating_point() else tensor.numpy()
            for name, tensor in state.items() if hasattr(tensor, "numpy")}
