"""Module attributes imported on first use, so importing a package stays cheap."""

import importlib


def lazy_attributes(package, modules):
    """``__getattr__`` and ``__dir__`` for a package whose names live in submodules.

    Args:
        package: the package's ``__name__``.
        modules: ``{attribute name: submodule name}``; an attribute named
            like its submodule is the submodule itself (``videokit.io``).

    Returns:
        A tuple ``(__getattr__, __dir__)`` to assign in the package.
    """
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name):
        if name not in modules:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}.{modules[name]}")
        value = module if name == modules[name] else getattr(module, name)
        namespace[name] = value  # later look-ups skip __getattr__
        return value

    def __dir__():
        return sorted(modules)

    return __getattr__, __dir__
