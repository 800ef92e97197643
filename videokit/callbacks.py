"""Keras callbacks that work the same on every backend."""

import os
import pathlib
import socket
import time
import uuid

import keras


class TensorBoardScalars(keras.callbacks.Callback):
    """Per-epoch metrics as TensorBoard event files, without TensorFlow.

    ``keras.callbacks.TensorBoard`` writes through ``tf.summary``, which
    imports TensorFlow even on the JAX and torch backends. This callback
    writes the same per-epoch scalars with the ``tensorboard`` package's own
    record writer: training metrics under ``log_dir/train`` and ``val_``
    metrics under ``log_dir/validation``, tagged ``epoch_<metric>`` as Keras
    does, so ``tensorboard --logdir log_dir`` shows both curves on one chart.

    Args:
        log_dir: folder for the event files.

    Example:

    >>> model.fit(x, y, validation_split=0.2,  # doctest: +SKIP
    ...           callbacks=[TensorBoardScalars("runs/demo/logs")])
    """

    def __init__(self, log_dir):
        super().__init__()
        from tensorboard.compat.proto import event_pb2, summary_pb2  # noqa: F401  (fail early if missing)

        self.log_dir = pathlib.Path(log_dir)
        self._writers = {}

    def on_train_begin(self, logs=None):
        self.log_dir.mkdir(parents=True, exist_ok=True)  # as Keras' TensorBoard: there from the start

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            split, tag = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
            self._write(split, f"epoch_{tag}", float(value), epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _write(self, split, tag, value, step):
        from tensorboard.compat.proto import event_pb2, summary_pb2

        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
        event = event_pb2.Event(wall_time=time.time(), step=step, summary=summary)
        self._writer(split).write(event.SerializeToString())

    def _writer(self, split):
        if split not in self._writers:
            from tensorboard.compat.proto import event_pb2
            from tensorboard.summary.writer.record_writer import RecordWriter

            folder = self.log_dir / split
            folder.mkdir(parents=True, exist_ok=True)
            name = f"events.out.tfevents.{time.time():.0f}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
            writer = RecordWriter(open(folder / name, "xb"))  # a new file each time: resumed runs add, never replace
            # TensorBoard reads a file whose first record names the format version.
            writer.write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
            self._writers[split] = writer
        return self._writers[split]
