"""Project-wide pytest configuration.

Notebooks are collected by nbval (see ``[tool.pytest.ini_options]`` in
``pyproject.toml``). Two things are adjusted here:

* ``CI`` is set for the notebook kernels, so every notebook runs its small
  size, the same size its committed outputs were produced with.
* Text written to stderr (TensorFlow's start-up logging, deprecation
  warnings) differs between machines and library versions, so it is left out
  of the output comparison. Everything a notebook prints to stdout, and every
  value it displays, is still compared.
"""

import os

# Student submissions used as grading fixtures are graded by tests/test_grading.py, not run by nbval.
collect_ignore_glob = ["tests/fixtures/*"]

os.environ.setdefault("CI", "true")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow's oneDNN kernels, its fast CPU path, are on by default only on CPUs with AVX-512 (VNNI);
# on others (AMD EPYC here) Conv3D training is ~17x slower without them. The notebooks' committed
# outputs were made with them on; the notebook kernels and the training subprocesses inherit this.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def _without_stderr(outputs):
    return [
        output
        for output in outputs
        if not (output.get("output_type") == "stream" and output.get("name") == "stderr")
    ]


def _ignore_stderr_in_nbval():
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: notebooks are simply not collected.
        return
    compare_outputs = IPyNbCell.compare_outputs

    def compare_outputs_without_stderr(self, test, ref, skip_compare=None):
        return compare_outputs(self, _without_stderr(test), _without_stderr(ref), skip_compare)

    IPyNbCell.compare_outputs = compare_outputs_without_stderr


_ignore_stderr_in_nbval()


def pytest_configure(config):
    """Validate notebooks with nbval, in this environment's kernel, whenever nbval is installed."""
    if hasattr(config.option, "nbval") and not config.option.nbval_lax:
        config.option.nbval = True
        config.option.nbval_current_env = True
