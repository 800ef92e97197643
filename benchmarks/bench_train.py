"""Input-pipeline overhead of training on a folder of real videos.

Trains the same model for the same epochs three times in this process: fed by
``VideoFolder.as_pydataset`` (what ``videokit train --data FOLDER`` uses: PyAV
decoding, resizing, cropping and batching in worker threads), by
``VideoFolder.as_tf_dataset`` (tf.data parallel map), and on the same clips
already decoded into in-memory arrays. The overhead is how much
slower the pipeline run is; the target is at most 10%.

Usage:
    python benchmarks/bench_train.py [--model cnn_lstm] [--videos 256] [--epochs 3]
"""

import argparse
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


def fit_clips_per_second(model_name, clip, num_classes, epochs, count, warm_up, **data):
    """Clips per second of ``model.fit(**data)``, after a one-step warm-up that compiles."""
    keras.utils.set_random_seed(0)
    model = training.build_model(training.RunConfig(model=model_name, clip=clip), num_classes=num_classes)
    model.fit(*warm_up, epochs=1, verbose=0)
    started = time.perf_counter()
    model.fit(epochs=epochs, verbose=0, **data)
    return epochs * count / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn_lstm")
    parser.add_argument("--videos", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args()
    clip = (8, 32, 32)
    with tempfile.TemporaryDirectory() as folder:
        root = pathlib.Path(folder)
        write_dataset(root, arguments.videos, clip[0], clip[1])
        dataset = VideoFolder(root, num_frames=clip[0], size=clip[1:], sampling="random", augment=True)
        sequence = dataset.as_pydataset(arguments.batch_size, workers=arguments.workers)
        in_memory = [dataset.load(index) for index in range(len(dataset))]
        clips = np.stack([clip_ for clip_, _ in in_memory])
        labels = np.array([label for _, label in in_memory])
        classes = len(dataset.class_names)
        warm_up = (clips[: arguments.batch_size], labels[: arguments.batch_size])
        common = (arguments.model, clip, classes, arguments.epochs, len(dataset), warm_up)
        arrays = fit_clips_per_second(*common, x=clips, y=labels, batch_size=arguments.batch_size)
        pipeline = fit_clips_per_second(*common, x=sequence)
        tf_pipeline = fit_clips_per_second(*common, x=dataset.as_tf_dataset(arguments.batch_size))
    print(f"{arguments.model}, {arguments.videos} H.264 videos, clips {'x'.join(map(str, clip))}, "
          f"batch {arguments.batch_size}, {arguments.epochs} epochs, {arguments.workers} decoding workers")
    print(f"{'in-memory arrays':<22}: {arrays:8.1f} clips/s")
    for name, speed in (("VideoFolder PyDataset", pipeline), ("VideoFolder tf.data", tf_pipeline)):
        print(f"{name:<22}: {speed:8.1f} clips/s, overhead {max(0.0, 1 - speed / arrays):6.1%} "
              f"(ratio {speed / arrays:.2f}x, target >= 0.90x)")


if __name__ == "__main__":
    main()
