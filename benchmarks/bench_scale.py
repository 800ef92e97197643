"""Multi-worker scaling: measured with 1, 2 and 4 worker processes here, estimated for GPU hosts.

Part 1 (measured): 1, 2 and 4 `--strategy multi-worker` processes on localhost, each with one CPU thread
and the same per-worker batch (weak scaling, as when machines are added), train the small default
model (cnn_lstm, 8x32x32 clips) through videokit's own multi-worker path (MultiWorkerMirroredStrategy
on TensorFlow, jax.distributed + DataParallel on JAX). Throughput is global clips per second over the
timed steps after a warm-up; the overhead per step is the step time beyond one worker's.

Part 2 (estimated): the gradient volume of a step is the trainable parameters' bytes (float32
gradients, also under mixed precision, where Keras keeps float32 variables), read from the models
built here: C3D and R(2+1)D, paper presets, 16x112x112 clips. A ring all-reduce sends
2 (N-1)/N of it per worker over the slowest link, plus 2 (N-1) latencies. With the assumed per-GPU
step time (printed, with where it comes from), this gives the step time and scaling efficiency on
N = 2..8 hosts of one GPU each on 100 Gb/s Ethernet, with no overlap of communication and compute
(the worst case) and with full overlap (the best).

Usage:
    python benchmarks/bench_scale.py                      # both parts, TensorFlow backend
    KERAS_BACKEND=jax python benchmarks/bench_scale.py --workers 1 2
    python benchmarks/bench_scale.py --estimate-only
"""

import argparse
import json
import math
import os
import socket
import subprocess
import sys
import time

LINK_GBIT = 100.0  # Ethernet between hosts
LINK_EFFICIENCY = 0.9  # of line rate reached by NCCL/gloo ring all-reduce on TCP or RoCE (assumed)
HOP_LATENCY_S = 20e-6  # per ring step (assumed; TCP over 100 GbE is 10-50 us)
GPU = "H100 SXM"
GPU_PEAK_TFLOPS = 989.0  # dense bf16 (videokit.benchmark.PEAK_TFLOPS)
ASSUMED_MFU = 0.40  # the target of benchmarks/bench_c3d_torch.py; not measured (no GPU was lent)
GPU_BATCH = 32  # clips per GPU per step
PAPER_MODELS = ("c3d", "r2plus1d")


def free_port():
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


# ----------------------------------------------------------------------------
# Part 1: worker processes on this machine


def worker(arguments):
    """One worker: train `steps` steps through videokit's multi-worker path; the chief prints the timings."""
    import keras

    from videokit.cluster import Cluster
    from videokit.config import RunConfig
    from videokit.training import loop
    from videokit.training.devices import distribution_scope, start_workers
    from videokit.training.task import task_for

    count, batch = arguments.num_workers, arguments.batch_size
    cluster = Cluster(count, arguments.worker, f"localhost:{arguments.port}")
    if keras.backend.backend() == "tensorflow":
        from videokit import tf_support

        tf = tf_support.tensorflow("bench_scale")
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    steps = arguments.warmup + arguments.steps
    samples = int(count * batch * steps / 0.8) + 8 * count
    config = RunConfig(model="cnn_lstm", data="moving_shapes", epochs=1, batch_size=batch, clip=(8, 32, 32),
                       samples=samples, strategy="multi-worker")
    start_workers(config.strategy, cluster)
    keras.utils.set_random_seed(0)
    task = task_for(config)
    task.cluster = cluster
    data = loop._shard(task.load_data(batch), cluster)
    data.train, data.train_targets = data.train[:steps * batch], data.train_targets[:steps * batch]
    data.validation, data.validation_targets = data.validation[:batch], data.validation_targets[:batch]
    times = []
    timer = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs=None: times.append(time.perf_counter()))
    with distribution_scope(config.strategy, cluster):
        model = task.build(data)
        loop._fit(task, model, data, batch * count, cluster, epochs=1, initial_epoch=0, callbacks=[timer],
                  verbose=0)
    timed = times[arguments.warmup - 1:]
    step = (timed[-1] - timed[0]) / (len(timed) - 1)
    parameter_bytes = 4 * sum(math.prod(weight.shape) for weight in model.trainable_weights)
    if cluster.is_chief:
        print(json.dumps({"workers": count, "step_s": step, "clips_per_s": count * batch / step,
                          "parameter_bytes": parameter_bytes, "steps": len(timed) - 1}))


def run_workers(count, arguments):
    port = free_port()
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS="1",
                       XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    environment.pop("TF_CONFIG", None)
    processes = [
        subprocess.Popen([sys.executable, __file__, "--worker", str(index), "--num-workers", str(count), "--port",
                          str(port), "--batch-size", str(arguments.batch_size), "--steps", str(arguments.steps),
                          "--warmup", str(arguments.warmup)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
        for index in range(count)
    ]
    outputs = [process.communicate(timeout=1200) for process in processes]
    for process, (_, stderr) in zip(processes, outputs):
        if process.returncode:
            raise SystemExit(f"a worker of {count} failed:\n{stderr[-3000:]}")
    return json.loads(outputs[0][0].strip().splitlines()[-1])


def measure(arguments):
    import keras

    print(f"Part 1, measured: {keras.backend.backend()} backend, cnn_lstm small on 8x32x32 clips, "
          f"{arguments.batch_size} clips per worker per step, one CPU thread per worker, {os.cpu_count()} cores; "
          f"{arguments.steps} timed steps after {arguments.warmup} warm-up steps")
    print(f"{'workers':>7} {'global batch':>12} {'step ms':>8} {'clips/s':>8} {'speed-up':>8} "
          f"{'overhead/step ms':>16}")
    results = []
    for count in arguments.workers:
        result = run_workers(count, arguments)
        results.append(result)
        base = results[0]
        speedup = result["clips_per_s"] / base["clips_per_s"]
        overhead = (result["step_s"] - base["step_s"]) * 1000
        print(f"{count:>7} {count * arguments.batch_size:>12} {result['step_s'] * 1000:>8.1f} "
              f"{result['clips_per_s']:>8.1f} {speedup:>7.2f}x {overhead:>16.1f}", flush=True)
    volume = results[0]["parameter_bytes"]
    print(f"gradient volume of a step: {volume / 1e6:.2f} MB ({volume // 4:,} float32 parameters)")
    return results


# ----------------------------------------------------------------------------
# Part 2: the estimate for GPU hosts


def paper_model_sizes():
    """Trainable parameter bytes and forward GMACs per clip of the paper presets at 16x112x112."""
    from videokit import registry
    from videokit.benchmark import count_macs

    sizes = {}
    for name in PAPER_MODELS:
        model = registry.get_model(name).build_function()(input_shape=(16, 112, 112, 3), num_classes=101)
        sizes[name] = {"parameter_bytes": 4 * sum(math.prod(weight.shape) for weight in model.trainable_weights),
                       "gmacs": count_macs(model) / 1e9}
        del model
    return sizes


def ring_allreduce_s(volume, hosts):
    bandwidth = LINK_GBIT * 1e9 / 8 * LINK_EFFICIENCY
    return 2 * (hosts - 1) / hosts * volume / bandwidth + 2 * (hosts - 1) * HOP_LATENCY_S


def estimate(sizes):
    print()
    print(f"Part 2, estimated: one GPU per host, hosts on {LINK_GBIT:g} Gb/s Ethernet at {LINK_EFFICIENCY:.0%} "
          f"of line rate, {HOP_LATENCY_S * 1e6:g} us per ring step; ring all-reduce of float32 gradients")
    print(f"assumed per-GPU step: {GPU_BATCH} clips at 16x112x112 on an {GPU} in bf16 at {ASSUMED_MFU:.0%} MFU "
          f"of {GPU_PEAK_TFLOPS:g} TFLOP/s (the MFU target of bench_c3d_torch.py, not a measurement), "
          "3 forward passes of FLOPs a training step")
    print(f"{'model':>9} {'params':>7} {'grad MB':>8} {'GPU step ms':>11} {'hosts':>5} {'all-reduce ms':>13} "
          f"{'eff. no overlap':>15} {'eff. overlap':>12} {'clips/s':>16}")
    rows = []
    for name, size in sizes.items():
        compute = GPU_BATCH * 3 * 2 * size["gmacs"] * 1e9 / (GPU_PEAK_TFLOPS * 1e12 * ASSUMED_MFU)
        for hosts in (2, 4, 8):
            reduce = ring_allreduce_s(size["parameter_bytes"], hosts)
            serial, overlapped = compute / (compute + reduce), compute / max(compute, reduce)
            low, high = hosts * GPU_BATCH * serial / compute, hosts * GPU_BATCH * overlapped / compute
            rows.append({"model": name, "hosts": hosts, "compute_s": compute, "allreduce_s": reduce,
                         "efficiency_serial": serial, "efficiency_overlap": overlapped})
            if hosts == 2:
                print(f"{name:>9}: {size['gmacs']:.1f} GMACs a clip; one GPU alone {GPU_BATCH / compute:.0f} clips/s")
            print(f"{name:>9} {size['parameter_bytes'] / 4e6:>6.1f}M {size['parameter_bytes'] / 1e6:>8.0f} "
                  f"{compute * 1000:>11.1f} {hosts:>5} {reduce * 1000:>13.1f} {serial:>15.0%} {overlapped:>12.0%} "
                  f"{low:>7.0f}-{high:<8.0f}")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="worker counts to measure")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per worker per step")
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="steps before the timing starts")
    parser.add_argument("--estimate-only", action="store_true", help="only part 2")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--num-workers", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=None, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker is not None:
        return worker(arguments)
    if not arguments.estimate_only:
        measure(arguments)
    estimate(paper_model_sizes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
