"""Input-pipeline overhead of training on a folder of real videos.

Trains the same model for the same epochs in this process, fed by:

* the same clips already decoded into in-memory arrays (the baseline);
* ``VideoFolder.as_pydataset`` decoding every clip (PyAV decoding, resizing,
  cropping and batching in worker threads; what ``videokit train --data
  FOLDER`` uses on the JAX and torch backends);
* ``VideoFolder.as_tf_dataset`` decoding every clip (tf.data parallel map;
  what ``videokit train --data FOLDER`` uses on TensorFlow);
* the same two with ``cache_dir`` (``videokit train --data FOLDER --cache
  DIR``): clips cut from frames decoded once, before training, as the
  baseline's arrays are; the PyDataset has one worker then, as in
  ``videokit train``, since a clip from the cache is cheap.

The overhead is how much slower a pipeline run is than the baseline; the
target is at most 10%.

Usage:
    python benchmarks/bench_train.py [--model cnn_lstm] [--videos 512] [--epochs 5] [--repeats 5] [--cached-only]
"""

import argparse
import gc
import pathlib
import tempfile
import time

import keras
import numpy as np

from videokit import io, training
from videokit.data import VideoFolder, moving_shapes


def write_dataset(root, count, frames, size):
    videos, labels, names = moving_shapes(count, num_frames=frames * 2, size=size * 2, seed=3)
    for number, (video, label) in enumerate(zip(videos, labels)):
        io.write_video(root / names[label] / f"clip{number:04d}.mp4", video, fps=25)


def fit_clips_per_second(model_name, clip, num_classes, epochs, count, **data):
    """Clips per second of ``model.fit(**data)``, after a warm-up epoch on the same data.

    The warm-up traces the training step for this input's signature (a
    PyDataset's ``int32`` labels and the arrays' ``int64`` ones trace apart),
    so that no side pays for tracing inside the timed epochs.
    """
    keras.backend.clear_session()  # nothing of the previous runs' models and input pipelines goes on working
    gc.collect()
    keras.utils.set_random_seed(0)
    model = training.build_model(training.RunConfig(model=model_name, clip=clip), num_classes=num_classes)
    model.fit(epochs=1, verbose=0, **data)
    started = time.perf_counter()
    model.fit(epochs=epochs, verbose=0, **data)
    return epochs * count / (time.perf_counter() - started)


def _rounded(values):
    return " ".join(f"{value:.0f}" for value in values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn_lstm")
    parser.add_argument("--videos", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cached-only", action="store_true",
                        help="leave out the decoding pipelines: compare the cached ones with the arrays alone")
    parser.add_argument("--repeats", type=int, default=5,
                        help="runs of each input; the median of their ratios to the baseline counts")
    arguments = parser.parse_args()
    clip = (8, 32, 32)
    with tempfile.TemporaryDirectory() as folder:
        root = pathlib.Path(folder) / "videos"
        write_dataset(root, arguments.videos, clip[0], clip[1])
        dataset = VideoFolder(root, num_frames=clip[0], size=clip[1:], sampling="random", augment=True)
        sequence = dataset.as_pydataset(arguments.batch_size, workers=arguments.workers)
        cached = VideoFolder(root, num_frames=clip[0], size=clip[1:], sampling="random", augment=True,
                             cache_dir=pathlib.Path(folder) / "cache")
        started = time.perf_counter()
        cached.prepare_cache(progress=False)
        caching_seconds = time.perf_counter() - started
        in_memory = [dataset.load(index) for index in range(len(dataset))]
        clips = np.stack([clip_ for clip_, _ in in_memory])
        labels = np.array([label for _, label in in_memory])
        classes = len(dataset.class_names)
        common = (arguments.model, clip, classes, arguments.epochs, len(dataset))
        inputs = {
            "in-memory arrays": dict(x=clips, y=labels, batch_size=arguments.batch_size),
            "VideoFolder PyDataset": dict(x=sequence),
            "VideoFolder tf.data": dict(x=dataset.as_tf_dataset(arguments.batch_size)),
            "cached PyDataset": dict(x=cached.as_pydataset(arguments.batch_size, workers=1)),
            "cached tf.data": dict(x=cached.as_tf_dataset(arguments.batch_size)),
        }
        if arguments.cached_only:
            inputs = {name: data for name, data in inputs.items() if not name.startswith("VideoFolder")}
        runs = {name: [] for name in inputs}
        for _ in range(arguments.repeats):  # interleaved, so that a busy spell hits every input alike
            for name, data in inputs.items():
                runs[name].append(fit_clips_per_second(*common, **data))
    print(f"{arguments.model}, {arguments.videos} H.264 videos, clips {'x'.join(map(str, clip))}, "
          f"batch {arguments.batch_size}, {arguments.epochs} epochs, {arguments.workers} decoding workers, "
          f"{arguments.repeats} interleaved runs")
    baseline = runs.pop("in-memory arrays")
    print(f"{'in-memory arrays':<22}: {np.median(baseline):7.1f} clips/s (median; runs: {_rounded(baseline)})")
    for name, speeds in runs.items():
        ratio = np.median(np.array(speeds) / np.array(baseline))  # each run against the baseline run beside it
        print(f"{name:<22}: {np.median(speeds):7.1f} clips/s, overhead {max(0.0, 1 - ratio):6.1%} "
              f"(ratio {ratio:.2f}x, target >= 0.90x; runs: {_rounded(speeds)})")
    print(f"filling the cache took {caching_seconds:.1f} s ({len(dataset) / caching_seconds:.0f} videos/s), "
          "once, before training")


if __name__ == "__main__":
    main()
