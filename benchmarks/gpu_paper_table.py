"""The ``paper`` preset's whole table on one GPU, projected from measured steps (Keras/JAX proxy).

TensorFlow cannot be installed on the GPU machine lent to this project (no network there, and its
GPU wheels are far larger than what can be carried), so this measures emokit's own layers under
Keras 3's JAX backend (``gpu_keras_jax.BenchModel``) at the sizes of ``emokit.config.presets.paper()``:
log-mel 128, 800 frames, 25 words, latent 200, text GRU 200, dropout 0.7, the paper code's
InfoNCE (MLP 320, raw cosine, instance pairs) under the convex objective, batch 128.

1. One process: the median training step at batch 128 (float32, mixed_bfloat16) and the median
   forward pass (evaluation, no gradients) at batch 512.
2. N = 1, 2, 4, 8 processes at once, each training its own model on the same GPU (what
   ``--jobs N`` does; ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` so that each takes only what it
   uses): the steps each finishes in a common timed window -> utterances/s of all together.
3. The projection: the preset's runs (``emokit.config.systems.expand_systems`` x 5 folds x seeds), an
   IEMOCAP-size fold (3,872 training, 553 validation, 1,106 test utterances on average), per
   epoch the training steps, the validation pass and, with ``train.monitor``, the probes' forward
   pass over train + validation; warm-started runs wait for their fold's baseline; at the epoch
   cap (100) and at the earliest early stop (patience + 1 epochs).

The JAX GRU runs as a step-by-step loop (Keras has no cuDNN GRU under JAX); TensorFlow on a GPU
uses cuDNN's fused kernel (tests/test_gpu_path.py checks its conditions), so the proxy's step is
an upper bound of TensorFlow's device time. Host work (input pipeline, Python per epoch) is not
in the projection: ``benchmarks/scale.py`` measures it on the CPU.

    KERAS_BACKEND=jax PYTHONPATH=/path/to/repo python benchmarks/gpu_paper_table.py [--smoke]

Prints a Markdown table; writes ``$OUT/gpu_paper_table.json`` when ``OUT`` is set.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax
import keras
from gpu_keras_jax import Dims, build, environment, make_train_step, random_batch

from emokit.config import presets
from emokit.config.systems import expand_systems

FOLDS = 5
# An IEMOCAP-size fold, averaged over the 5 session folds (5,531 four-class utterances): the test
# session is a fifth, one of the other 8 speakers is held out for validation.
TEST_UTTERANCES = 5531 // FOLDS
VAL_UTTERANCES = (5531 - TEST_UTTERANCES) // 8
TRAIN_UTTERANCES = 5531 - TEST_UTTERANCES - VAL_UTTERANCES
EVAL_BATCH = 512
CONCURRENCY = (1, 2, 4, 8)


def paper_dims_and_shape(smoke: bool) -> tuple[Dims, dict, float]:
    """The ``paper`` preset's model sizes, input shape and one pair weight (alpha)."""
    config = presets.paper()
    m = config.model
    dims = Dims(feature_dim=config.features.n_mels, latent_dim=m.latent_dim,
                conv_filters=m.audio_conv_filters, conv_kernel=m.audio_conv_kernel,
                conv_layers=m.audio_conv_layers, audio_rnn_units=m.audio_rnn_units,
                text_rnn_units=m.text_rnn_units, vocab_size=3000,
                embedding_dim=config.text.vector_dim, dropout=m.dropout,
                discriminator_units=m.discriminator_units, temperature=m.temperature,
                pairing=m.pairing, objective=m.objective)
    frames, words = config.pipeline.max_frames, config.pipeline.max_words
    shape = {"frames": frames, "min_frames": frames // 4, "words": words, "min_words": 3}
    if smoke:
        dims = dataclasses.replace(dims, feature_dim=8, latent_dim=8, conv_filters=4,
                                   audio_rnn_units=4, text_rnn_units=4, vocab_size=50,
                                   embedding_dim=8, discriminator_units=8)
        shape = {"frames": 40, "min_frames": 10, "words": 8, "min_words": 2}
    return dims, shape, config.contrastive_weights[len(config.contrastive_weights) // 2]


def timed(function, steps: int) -> list[float]:
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        jax.block_until_ready(function())
        times.append(time.perf_counter() - start)
    return times


class Run:
    """One compiled training run: ``train()`` does one step, ``evaluate()`` one forward pass."""

    def __init__(self, dtype_policy: str, batch: int, smoke: bool):
        dims, shape, alpha = paper_dims_and_shape(smoke)
        self.model, optimizer = build(dtype_policy, alpha, shape, dims)
        self.batch = batch
        self.step = make_train_step(self.model, optimizer)
        self.state = ([v.value for v in self.model.trainable_variables],
                      [v.value for v in self.model.non_trainable_variables],
                      [v.value for v in optimizer.variables])
        self.inputs = jax.device_put(random_batch(batch, shape, dims=dims))
        self.eval_inputs = jax.device_put(random_batch(EVAL_BATCH if not smoke else 8, shape,
                                                       seed=2, dims=dims))
        model = self.model

        def forward(trainable, non_trainable, inputs):
            (loss, _), _ = model.stateless_call(trainable, non_trainable, inputs, training=False)
            return loss

        self.forward = jax.jit(forward)
        start = time.perf_counter()
        self.train()
        self.evaluate()
        jax.block_until_ready(self.state)
        self.compile_s = time.perf_counter() - start

    def train(self):
        loss, _, self.state = self.step(self.state, self.inputs)
        return loss

    def evaluate(self):
        return self.forward(self.state[0], self.state[1], self.eval_inputs)


def single_process(smoke: bool, steps: int) -> list[dict]:
    rows = []
    for policy in ("float32", "mixed_bfloat16"):
        run = Run(policy, 128 if not smoke else 4, smoke)
        train = timed(run.train, steps)
        forward = timed(run.evaluate, steps)
        rows.append({"dtype_policy": policy, "batch": run.batch, "compile_s": round(run.compile_s, 1),
                     "train_step_ms": round(1e3 * statistics.median(train), 2),
                     "eval_batch": int(run.eval_inputs["labels"].shape[0]),
                     "eval_step_ms": round(1e3 * statistics.median(forward), 2)})
        print(json.dumps(rows[-1]), flush=True)
        del run
        keras.backend.clear_session()
    return rows


def worker(args) -> None:
    """One of N concurrent processes: compile, wait for the others, train for ``seconds``."""
    run = Run("float32", args.batch, args.smoke)
    timed(run.train, 3)
    ready = Path(args.ready_dir)
    (ready / f"ready-{args.index}").touch()
    deadline = time.time() + 600
    while len(list(ready.glob("ready-*"))) < args.count and time.time() < deadline:
        time.sleep(0.01)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        jax.block_until_ready(run.train())
        steps += 1
    seconds = time.perf_counter() - start
    stats = jax.devices()[0].memory_stats() or {}
    print(json.dumps({"index": args.index, "steps": steps, "seconds": seconds,
                      "compile_s": run.compile_s,
                      "peak_device_mib": round(stats.get("peak_bytes_in_use", 0) / 2**20, 1)}),
          flush=True)


def concurrent(count: int, batch: int, seconds: float, smoke: bool, scratch: Path) -> dict:
    """``count`` worker processes training at once -> their summed utterances/s."""
    ready = scratch / f"ready-{count}"
    ready.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, __file__, "--worker", "--batch", str(batch), "--seconds",
               str(seconds), "--ready-dir", str(ready), "--count", str(count)]
    if smoke:
        command.append("--smoke")
    procs = [subprocess.Popen(command + ["--index", str(i)], stdout=subprocess.PIPE, text=True)
             for i in range(count)]
    reports = []
    for proc in procs:
        out, _ = proc.communicate(timeout=900)
        if proc.returncode:
            raise RuntimeError(f"a worker of N={count} exited with {proc.returncode}")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    throughput = sum(r["steps"] * batch / r["seconds"] for r in reports)
    row = {"processes": count, "batch": batch, "utterances_per_s": round(throughput, 1),
           "per_process_step_ms": round(1e3 * statistics.median(
               r["seconds"] / r["steps"] for r in reports), 2),
           "compile_s_max": round(max(r["compile_s"] for r in reports), 1),
           "peak_device_mib_each": max(r["peak_device_mib"] for r in reports)}
    print(json.dumps(row), flush=True)
    return row


def speedup_at(k: int, scaling: dict[int, float]) -> float:
    """Throughput of k concurrent runs over one run's, interpolated between measured N."""
    known = sorted(scaling)
    if k in scaling:
        return scaling[k]
    lower = max([n for n in known if n < k], default=known[0])
    upper = min([n for n in known if n > k], default=known[-1])
    if upper == lower:
        return scaling[lower] * k / lower if k > lower else scaling[lower]
    share = (k - lower) / (upper - lower)
    return scaling[lower] + share * (scaling[upper] - scaling[lower])


def projection(step_ms: float, eval_ms: float, scaling: dict[int, float], batch: int) -> dict:
    """The paper table's wall time (device work only) for N = each measured concurrency."""
    config = presets.paper()
    systems = expand_systems(config)
    per_fold = len(config.seeds)
    baselines = sum(not s.warm_start for s in systems) * FOLDS * per_fold
    warm = sum(s.warm_start for s in systems) * FOLDS * per_fold
    forward_utterances = VAL_UTTERANCES + (TRAIN_UTTERANCES + VAL_UTTERANCES
                                           if config.train.monitor else 0)
    epoch_s = (math.ceil(TRAIN_UTTERANCES / batch) * step_ms
               + math.ceil(forward_utterances / EVAL_BATCH) * eval_ms) / 1e3
    test_s = math.ceil(TEST_UTTERANCES / EVAL_BATCH) * eval_ms / 1e3
    shortest = config.train.patience + 1
    rows = []
    for n in sorted(scaling):
        waves = [min(n, baselines - i) for i in range(0, baselines, n)]
        waves += [min(n, warm - i) for i in range(0, warm, n)]
        # a wave of k runs at once takes one run's time x k / (throughput of k over one's)
        slowdown = sum(k / speedup_at(k, scaling) for k in waves)
        rows.append({"jobs": n, "runs": baselines + warm, "waves": len(waves),
                     "minutes_at_epoch_cap": round(slowdown * (config.train.epochs * epoch_s
                                                               + test_s) / 60, 1),
                     "minutes_at_shortest_stop": round(slowdown * (shortest * epoch_s
                                                                   + test_s) / 60, 1)})
    return {"epoch_s_one_run": round(epoch_s, 2), "epochs_cap": config.train.epochs,
            "shortest_stop_epochs": shortest, "train_utterances": TRAIN_UTTERANCES,
            "forward_utterances_per_epoch": forward_utterances, "rows": rows}


def markdown(result: dict) -> str:
    header = ("| processes at once | utterances/s (all) | step ms (each) | speed-up | "
              "paper table, min at 31 epochs | at 100 epochs |")
    lines = [header, "|---:|---:|---:|---:|---:|---:|"]
    base = result["concurrency"][0]["utterances_per_s"]
    for row, proj in zip(result["concurrency"], result["projection"]["rows"]):
        lines.append(f"| {row['processes']} | {row['utterances_per_s']:,.0f} | "
                     f"{row['per_process_step_ms']:.1f} | {row['utterances_per_s'] / base:.2f}x | "
                     f"{proj['minutes_at_shortest_stop']} | {proj['minutes_at_epoch_cap']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: a quick CPU check")
    parser.add_argument("--seconds", type=float, default=15.0,
                        help="the timed window of the concurrent runs")
    parser.add_argument("--steps", type=int, default=20, help="timed steps in one process")
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCY))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=128, help=argparse.SUPPRESS)
    parser.add_argument("--ready-dir", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    env = environment()
    print(json.dumps(env), flush=True)
    batch = 4 if args.smoke else 128
    result = {"environment": env, "smoke": args.smoke, "single": single_process(args.smoke,
                                                                                   args.steps)}
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"gpu_paper_table_{os.getpid()}"
    result["concurrency"] = [concurrent(n, batch, args.seconds, args.smoke, scratch)
                             for n in args.concurrency]
    one = result["concurrency"][0]["utterances_per_s"]
    scaling = {r["processes"]: r["utterances_per_s"] / one for r in result["concurrency"]}
    fp32 = result["single"][0]
    result["projection"] = projection(fp32["train_step_ms"], fp32["eval_step_ms"], scaling,
                                      batch)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "gpu_paper_table.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result["projection"]))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
