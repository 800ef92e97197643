"""Checks of layer arguments, shared so that every layer words its `ValueError` the same way."""


def positive_int(layer, name, value):
    """``value`` if it is a positive int (not a bool), else a `ValueError` naming ``layer`` and ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{layer} expects {name} to be a positive int; got {name}={value!r}.")
    return value


def triple(layer, name, value):
    """``value`` as ``(time, height, width)``, three positive ints (an int is repeated), or a `ValueError`."""
    values = (value,) * 3 if isinstance(value, int) else tuple(value)
    if len(values) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        raise ValueError(
            f"{layer} expects {name} to be a positive int or three positive ints (time, height, width); "
            f"got {name}={value!r}."
        )
    return values
