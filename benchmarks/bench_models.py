"""Training and inference speed and peak memory of every videokit model preset.

Each model is measured in its own subprocess so that its peak memory is its
own. On a CPU the small presets are measured at their own clip size; with
``--paper`` the paper presets at 16x112x112 (meant for a GPU, where the table
also shows achieved TFLOP/s and MFU).

Usage:
    python benchmarks/bench_models.py              # small presets, CPU
    KERAS_BACKEND=jax python benchmarks/bench_models.py --paper --batch-size 32 --precision mixed_bfloat16
"""

import argparse
import json
import subprocess
import sys

from videokit import benchmark

SMALL = {  # model -> clip of its small preset
    "cnn_lstm": (8, 32, 32),
    "c3d": (8, 32, 32),
    "r2plus1d": (8, 32, 32),
    "r3d": (8, 32, 32),
    "single_frame": (8, 32, 32),
    "early_fusion": (8, 32, 32),
    "late_fusion": (8, 32, 32),
    "slow_fusion": (8, 32, 32),
    "multi_level_fusion": (8, 32, 32),
    "convlstm": (8, 32, 32),
}


def measure_in_subprocess(model, clip, batch_size, preset, precision, steps):
    code = (
        "import json, sys; from videokit import benchmark; "
        f"print(json.dumps(benchmark.measure({model!r}, {clip!r}, {batch_size}, preset={preset!r}, "
        f"precision={precision!r}, steps={steps})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paper", action="store_true", help="paper presets at 16x112x112")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=list(SMALL))
    arguments = parser.parse_args()
    results = []
    for model in arguments.models:
        clip = (16, 112, 112) if arguments.paper else SMALL[model]
        preset = "paper" if arguments.paper else "small"
        results.append(measure_in_subprocess(model, clip, arguments.batch_size, preset, arguments.precision,
                                             arguments.steps))
        print(f"measured {model}", file=sys.stderr)
    print(benchmark.format_table(results))


if __name__ == "__main__":
    main()
