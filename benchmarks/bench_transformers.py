"""Video transformers' training speed: videokit against Hugging Face's PyTorch models, in one process.

Two models, each at the same configuration on both sides:

* ``timesformer``: `videokit.models.timesformer` (divided space-time attention)
  against ``transformers.TimesformerForVideoClassification``;
* ``videomae``: a VideoMAE-style classifier of joint space-time attention built
  from videokit's layers (`TubeletEmbedding` 2x16x16, joint
  `SpaceTimePositionEmbedding`, `TransformerBlock`, mean pooling, a layer
  normalisation, a linear classifier) against
  ``transformers.VideoMAEForVideoClassification`` (the same arrangement; its
  positions are a fixed sinusoidal table, videokit's are learned, and it has
  no key bias: tokens x width + depth x width parameters apart, 0.1% at base).

videokit runs on Keras's torch backend (``KERAS_BACKEND=torch``, set by this
script), so both sides use PyTorch eager on the same device, threads and
batch. A training step is forward, cross-entropy on logits, backward and an
SGD step: ``model.train_on_batch`` on the videokit side, a plain PyTorch loop
(``zero_grad``, ``loss.backward()``, ``optimizer.step()``, ``loss.item()``) on
the Hugging Face side. Both wait for the loss each step.

Prints clips/s, ms per step, achieved TFLOP/s (3 forward passes of
multiply-adds per step, counted on videokit's model by
`videokit.benchmark.count_macs`) and, on a known GPU, MFU; then the ratio
videokit/Hugging Face (> 1: videokit is faster).

``--memory`` instead measures the peak memory of one forward and backward
pass at batch 1, divided (TimeSformer) against joint (VideoMAE-style)
attention, each in a fresh process: on CUDA the allocator's peak, on CPU the
growth of the process's peak resident memory over the model's own.

Usage:
    python benchmarks/bench_transformers.py --config small
    python benchmarks/bench_transformers.py --config base --steps 3   # base width, 4x112x112 clips
    python benchmarks/bench_transformers.py --config base --clip 8x224x224 --batch-size 8 --device cuda --bf16
    python benchmarks/bench_transformers.py --memory --clip 16x224x224 --depth 1
"""

import argparse
import json
import os
import subprocess
import sys
import time

CONFIGS = {
    # Seconds on 2 CPU cores.
    "small": {"clip": (8, 32, 32), "patch": 8, "hidden": 64, "depth": 2, "heads": 2, "mlp": 128, "batch": 8,
              "steps": 10, "warmup": 3},
    # ViT-B width and depth (TimeSformer-B, VideoMAE-B), at 4x112x112 on a CPU (8x224x224 with --clip on a GPU).
    "base": {"clip": (4, 112, 112), "patch": 16, "hidden": 768, "depth": 12, "heads": 12, "mlp": 3072, "batch": 2,
             "steps": 3, "warmup": 1},
}
NUM_CLASSES = 400


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="small")
    parser.add_argument("--models", default="timesformer,videomae", help="comma-separated: timesformer, videomae")
    parser.add_argument("--clip", help="FRAMESxHEIGHTxWIDTH instead of the config's")
    parser.add_argument("--batch-size", type=int, help="instead of the config's")
    parser.add_argument("--depth", type=int, help="blocks, instead of the config's")
    parser.add_argument("--steps", type=int, help="timed training steps per side (config's: 10 small, 3 base)")
    parser.add_argument("--warmup", type=int, help="untimed steps per side first (config's: 3 small, 1 base)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--bf16", action="store_true", help="mixed bfloat16 on both sides (GPU only)")
    parser.add_argument("--memory", action="store_true", help="peak memory of divided vs joint attention instead")
    parser.add_argument("--memory-one", help=argparse.SUPPRESS)  # internal: one measurement in this process
    arguments = parser.parse_args(argv)
    if arguments.bf16 and arguments.device != "cuda":
        parser.error("--bf16 is for a GPU (--device cuda); CPUs here have no fast bfloat16 path.")
    settings = dict(CONFIGS[arguments.config])
    if arguments.clip:
        settings["clip"] = tuple(int(size) for size in arguments.clip.lower().split("x"))
    if arguments.batch_size:
        settings["batch"] = arguments.batch_size
    if arguments.depth:
        settings["depth"] = arguments.depth
    arguments.steps = arguments.steps or settings["steps"]
    arguments.warmup = settings["warmup"] if arguments.warmup is None else arguments.warmup
    arguments.settings = settings
    return arguments


ARGUMENTS = parse_arguments() if __name__ == "__main__" else None
if ARGUMENTS is not None and ARGUMENTS.device == "cpu":
    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # Keras's torch backend takes a GPU whenever it sees one
os.environ["KERAS_BACKEND"] = "torch"

import transformers  # noqa: E402  (PyTorch's libraries before Keras's)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from videokit import benchmark  # noqa: E402
from videokit.layers.position_embedding import SpaceTimePositionEmbedding  # noqa: E402
from videokit.layers.tubelet_embedding import TubeletEmbedding  # noqa: E402
from videokit.layers.video_transformer import TransformerBlock  # noqa: E402
from videokit.models import timesformer  # noqa: E402

RATIO_TARGET = 1.0


# ----------------------------------------------------------------------------- the models


def videokit_timesformer(settings):
    frames, height, width = settings["clip"]
    return timesformer(
        input_shape=(frames, height, width, 3),
        num_classes=NUM_CLASSES,
        patch_size=settings["patch"],
        embed_dim=settings["hidden"],
        depth=settings["depth"],
        num_heads=settings["heads"],
        mlp_dim=settings["mlp"],
        classifier_activation=None,
    )


def hf_timesformer(settings, attention_type="divided_space_time"):
    frames, height, _ = settings["clip"]
    config = transformers.TimesformerConfig(
        attention_type=attention_type,
        image_size=height, patch_size=settings["patch"], num_frames=frames, hidden_size=settings["hidden"],
        num_hidden_layers=settings["depth"], num_attention_heads=settings["heads"],
        intermediate_size=settings["mlp"], num_labels=NUM_CLASSES,
    )
    return transformers.TimesformerForVideoClassification(config)


def videokit_videomae(settings, tubelet_frames=2):
    """VideoMAE's fine-tuning classifier from videokit layers: joint attention over 2x16x16 tubelets."""
    frames, height, width = settings["clip"]
    tubelet = (tubelet_frames, settings["patch"], settings["patch"])
    clips = keras.Input((frames, height, width, 3), name="clips")
    x = TubeletEmbedding(settings["hidden"], tubelet, name="tubelet_embedding")(clips)
    x = SpaceTimePositionEmbedding(
        frames // tubelet_frames, (height // tubelet[1]) * (width // tubelet[2]), mode="joint", name="positions"
    )(x)
    for index in range(settings["depth"]):
        x = TransformerBlock(settings["heads"], settings["mlp"], layer_norm_epsilon=1e-12, name=f"block{index}")(x)
    x = keras.layers.GlobalAveragePooling1D(name="mean_pool")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-12, name="fc_norm")(x)
    outputs = keras.layers.Dense(NUM_CLASSES, name="predictions")(x)
    return keras.Model(clips, outputs, name="videomae_classifier")


def hf_videomae(settings):
    frames, height, _ = settings["clip"]
    config = transformers.VideoMAEConfig(
        image_size=height, patch_size=settings["patch"], num_frames=frames, tubelet_size=2,
        hidden_size=settings["hidden"], num_hidden_layers=settings["depth"],
        num_attention_heads=settings["heads"], intermediate_size=settings["mlp"], num_labels=NUM_CLASSES,
    )
    return transformers.VideoMAEForVideoClassification(config)


MODELS = {"timesformer": (videokit_timesformer, hf_timesformer), "videomae": (videokit_videomae, hf_videomae)}
# --memory only: joint attention over TimeSformer's own tokens (1x16x16 patches), as the paper's "joint space-time".
MEMORY_MODELS = {
    **MODELS,
    "joint": (lambda settings: videokit_videomae(settings, tubelet_frames=1),
              lambda settings: hf_timesformer(settings, attention_type="joint_space_time")),
}


# ----------------------------------------------------------------------------- timing


def random_batch(settings, batch_size):
    rng = np.random.default_rng(0)
    clips = rng.random((batch_size, *settings["clip"], 3), dtype=np.float32)
    return clips, rng.integers(0, NUM_CLASSES, batch_size)


def interleaved_seconds(steps_by_side, warmup, steps, device):
    """Median seconds per step of each side, timed in turn (A, B, A, B, ...).

    Timing the two sides alternately, not one after the other, lets a machine
    whose load changes over the run slow both alike; the median drops steps
    that another process interrupted.
    """
    wait = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for step in steps_by_side.values():
        for _ in range(warmup):
            step()
    times = {side: [] for side in steps_by_side}
    for _ in range(steps):
        for side, step in steps_by_side.items():
            wait()
            started = time.perf_counter()
            step()
            wait()
            times[side].append(time.perf_counter() - started)
    return {side: float(np.median(values)) for side, values in times.items()}


def videokit_step(model, clips, labels):
    """``train_on_batch``: forward, cross-entropy on logits, backward, SGD, the loss as a float."""
    model.compile(
        keras.optimizers.SGD(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    clips = keras.ops.convert_to_tensor(clips)
    labels = keras.ops.convert_to_tensor(labels, "int32")
    return lambda: model.train_on_batch(clips, labels)


def hugging_face_step(model, clips, labels, arguments):
    """The same step in plain PyTorch on Hugging Face's model."""
    device = torch.device(arguments.device)
    model = model.to(device).train()
    # Hugging Face's video models take (batch, time, channels, height, width).
    pixels = torch.from_numpy(clips).permute(0, 1, 4, 2, 3).contiguous().to(device)
    labels = torch.from_numpy(labels).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=arguments.bf16):
            logits = model(pixel_values=pixels).logits
        loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    return train_step


def device_description(device):
    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"CPU, {torch.get_num_threads()} PyTorch threads"


def speed(arguments):
    settings = arguments.settings
    if arguments.bf16:
        keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    device_name = device_description(arguments.device)
    peak = benchmark.peak_tflops(device_name) if arguments.device == "cuda" else None
    batch = settings["batch"]
    clips, labels = random_batch(settings, batch)
    print(f"device: {device_name}; Keras {keras.__version__} (torch backend), PyTorch {torch.__version__}, "
          f"transformers {transformers.__version__}")
    print(f"config {arguments.config}: clips {'x'.join(map(str, settings['clip']))}x3, batch {batch}, "
          f"hidden {settings['hidden']}, depth {settings['depth']}, heads {settings['heads']}, "
          f"MLP {settings['mlp']}, patch {settings['patch']}, {'bf16' if arguments.bf16 else 'float32'}, "
          f"median of {arguments.steps} steps per side, timed in turn, after {arguments.warmup} untimed\n")
    print(f"{'model':<12} {'side':<24} {'params':>12} {'clips/s':>9} {'ms/step':>9} {'TFLOP/s':>8} {'MFU':>6}")
    ratios = {}
    for name in arguments.models.split(","):
        build_videokit, build_hf = MODELS[name]
        keras.utils.set_random_seed(0)
        ours = build_videokit(settings)
        macs = benchmark.count_macs(ours)
        theirs = build_hf(settings)
        implementation = getattr(theirs.config, "_attn_implementation", None) or "eager"
        seconds = interleaved_seconds(
            {"hf": hugging_face_step(theirs, clips, labels, arguments), "videokit": videokit_step(ours, clips, labels)},
            arguments.warmup, arguments.steps, arguments.device,
        )
        rows = [
            (f"Hugging Face ({implementation})", sum(p.numel() for p in theirs.parameters()), seconds["hf"]),
            ("videokit (torch backend)", ours.count_params(), seconds["videokit"]),
        ]
        del theirs, ours
        for side, parameters, seconds in rows:
            tflops = 3 * 2 * macs * batch / seconds / 1e12
            mfu = f"{tflops / peak:.1%}" if peak else "-"
            print(f"{name:<12} {side:<24} {parameters:>12,} {batch / seconds:>9.2f} {1000 * seconds:>9.1f} "
                  f"{tflops:>8.3f} {mfu:>6}")
        ratios[name] = rows[0][2] / rows[1][2]
        print(f"{name:<12} videokit/Hugging Face: {ratios[name]:.2f}x "
              f"({'met' if ratios[name] >= RATIO_TARGET else 'NOT met'}: target >= {RATIO_TARGET:.1f}x); "
              f"{macs / 1e9:.2f} GMACs per clip (forward)\n")
    return ratios


# ----------------------------------------------------------------------------- memory


def _resident_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_resident_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory_one(arguments, which):
    """One forward and backward pass at batch 1; prints a JSON line with the memory it took."""
    settings = arguments.settings
    side, name = which.split(":")
    build = dict(zip(("videokit", "hf"), MEMORY_MODELS[name]))[side]
    clips, labels = random_batch(settings, 1)
    model = build(settings)
    device = arguments.device
    if side == "hf":
        model = model.to(device).train()
        inputs = torch.from_numpy(clips).permute(0, 1, 4, 2, 3).contiguous().to(device)
        forward = lambda: model(pixel_values=inputs).logits  # noqa: E731
    else:
        inputs = keras.ops.convert_to_tensor(clips)
        forward = lambda: model(inputs, training=True)  # noqa: E731
    target = torch.from_numpy(labels).to(device)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated() / 2**20
    else:
        # Resident memory so far (weights, libraries); the peak reset so that only the pass is seen.
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        before = _resident_mib()
    started = time.perf_counter()
    with torch.autocast(device, dtype=torch.bfloat16, enabled=arguments.bf16):
        loss = torch.nn.functional.cross_entropy(forward().float(), target)
    loss.backward()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = _peak_resident_mib()
    print(json.dumps({"which": which, "extra_mib": peak - before, "seconds": time.perf_counter() - started}))


def memory(arguments):
    """Divided vs joint attention, each pass in its own process; prints the table and the N x N formula."""
    settings = arguments.settings
    frames, height, width = settings["clip"]
    patch, heads, depth = settings["patch"], settings["heads"], settings["depth"]
    spatial = (height // patch) * (width // patch)
    print(f"device: {device_description(arguments.device)}; clips {frames}x{height}x{width}x3, batch 1, "
          f"hidden {settings['hidden']}, depth {depth}, heads {heads}, forward + backward\n")
    print(f"{'attention':<38} {'tokens':>7} {'maps MiB (formula)':>19} {'peak extra MiB':>15} {'seconds':>8}")
    # Attention-map entries per block: divided, time maps (n_s sequences of n_t) and space maps (n_t
    # sequences of 1 + n_s); joint, one map over all N tokens (+1 with a class token).
    divided = heads * (spatial * frames**2 + frames * (1 + spatial) ** 2)
    joint = heads * (frames * spatial + 1) ** 2
    joint_tubelets = heads * ((frames // 2) * spatial) ** 2
    rows = [
        ("divided: videokit TimeSformer", "videokit:timesformer", 1 + frames * spatial, divided),
        ("divided: Hugging Face TimeSformer", "hf:timesformer", 1 + frames * spatial, divided),
        ("joint: videokit, 1x16x16 tokens", "videokit:joint", frames * spatial, joint),
        ("joint: Hugging Face TimeSformer", "hf:joint", 1 + frames * spatial, joint),
        ("joint: videokit, 2x16x16 (VideoMAE)", "videokit:videomae", (frames // 2) * spatial, joint_tubelets),
        ("joint: Hugging Face VideoMAE", "hf:videomae", (frames // 2) * spatial, joint_tubelets),
    ]
    command = [sys.executable, __file__] + [a for a in sys.argv[1:] if a != "--memory"]
    for label, which, tokens, entries in rows:
        result = subprocess.run(command + ["--memory-one", which], capture_output=True, text=True)
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        maps_mib = depth * entries * 4 / 2**20  # float32 softmax outputs kept for the backward pass
        if not lines:
            tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"{label:<38} {tokens:>7} {maps_mib:>19.0f} {'failed':>15}   ({tail[:80]})")
            continue
        measured = json.loads(lines[-1])
        print(f"{label:<38} {tokens:>7} {maps_mib:>19.0f} {measured['extra_mib']:>15.0f} "
              f"{measured['seconds']:>8.1f}")
    print("\nmaps MiB: one float32 copy of every block's attention maps, depth x heads x entries x 4 bytes; "
          "entries per block: joint N^2 (N tokens), divided n_s n_t^2 + n_t (1 + n_s)^2 (n_t frames, n_s "
          "patches per frame). Eager attention keeps about two such copies for the backward pass (scores' "
          "softmax and its gradient); a fused kernel (SDPA) keeps none.")


if __name__ == "__main__":
    if ARGUMENTS.memory_one:
        memory_one(ARGUMENTS, ARGUMENTS.memory_one)
    elif ARGUMENTS.memory:
        memory(ARGUMENTS)
    else:
        speed(ARGUMENTS)
