"""Time one jitted emokit training step under Keras 3's JAX backend (a proxy for the GPU path).

TensorFlow is not available on the lent GPU machine, so this builds the paper-sized model from
emokit's own Keras 3 layers (``emokit.model.layers``, ``emokit.model.discriminators``) and losses
(``emokit.model.losses``), which import only keras, and times a full training step with JAX:

    forward -> CE + 0.5 * InfoNCE pair loss (label pairing) -> jax.value_and_grad over the
    trainable variables (model.stateless_call) -> Adam (global_clipnorm 1.0, as
    emokit.training.trainer.make_optimizer; LossScaleOptimizer under mixed_float16)

for batch sizes 32/128/512 x dtype policies float32 / mixed_bfloat16 / mixed_float16, plus the
baseline (no pair loss, no discriminator) at batch 128 float32. Inputs are random and shaped like
emokit's pipeline: audio ``(batch, 750, 42)`` with a right-padded mask of random lengths 200..750,
tokens ``(batch, 50)`` int32 with a right-padded mask of random lengths 3..50.

Per configuration: compile time (trace + lower + XLA compile; ``trace_s`` is the first part), median / p10 / p90 of >= 20 timed
steps (``jax.block_until_ready``), utterances/s, XLA's static memory estimate of the step, and
``peak_bytes_in_use`` of the device (a process-wide running maximum: each configuration's value
includes everything run before it).

    KERAS_BACKEND=jax PYTHONPATH=/path/to/repo python benchmarks/gpu_keras_jax.py [--smoke]

Measured on an NVIDIA H100 80GB (JAX 0.11.2, Keras 3.15.1): ``benchmarks/results/
gpu_keras_jax_h100.json`` and ``.log``. The masked GRUs run as a step-by-step loop under JAX (no
cuDNN kernel), so the step is latency-bound: a larger batch is nearly free, mixed precision is not
faster. TensorFlow's own GPU path (cuDNN GRUs) is ``benchmarks/gpu.py``.

Prints a Markdown table last; writes JSON to ``$OUT/gpu_keras_jax.json`` when ``OUT`` is set.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import keras
import numpy as np

from emokit.model.discriminators import PairDiscriminator
from emokit.model.layers import AudioEncoder, ConcatFusion, EmotionClassifier, TextEncoder
from emokit.model.losses import classification_loss, combine_losses, pair_loss


@dataclasses.dataclass(frozen=True)
class Dims:
    """The benchmarked model's sizes and pair loss (emokit.config.ModelConfig's meaning)."""

    feature_dim: int = 42
    latent_dim: int = 128
    conv_filters: int = 64
    conv_kernel: int = 5
    conv_layers: int = 2
    audio_rnn_units: int = 64
    text_rnn_units: int = 64
    vocab_size: int = 3000
    embedding_dim: int = 100
    num_classes: int = 4
    dropout: float = 0.3
    discriminator_units: int = 128
    temperature: float | None = 0.1
    pairing: str = "label"
    objective: str = "sum"


# The model this benchmark measured first (ModelConfig defaults, MFCC features); ``--model paper``
# reads the ``paper`` preset instead (benchmarks/gpu_paper_table.py).
DEFAULT = Dims()
PAIR_WEIGHT = 0.5
LEARNING_RATE = 1e-3
CLIPNORM = 1.0

FULL = {"frames": 750, "min_frames": 200, "words": 50, "min_words": 3,
        "batches": [32, 128, 512], "steps": 20, "warmup": 3}
SMOKE = {"frames": 40, "min_frames": 10, "words": 8, "min_words": 2,
         "batches": [4], "steps": 2, "warmup": 1}
DTYPES = ["float32", "mixed_bfloat16", "mixed_float16"]
BASELINE_BATCH = 128


class BenchModel(keras.Model):
    """emokit's fusion model, returning its training loss.

    ``call({"audio" (batch, frames, dims), "audio_mask" (batch, frames) bool, "tokens" (batch,
    words) int32, "text_mask" (batch, words) bool, "labels" (batch,) int32})`` ->
    ``(loss, ce)`` float32 scalars; ``loss = CE + pair_weight * InfoNCE`` (just CE when
    ``pair_weight == 0``, in which case the discriminator does not exist, as in emokit's baseline
    whose discriminator is never trained).
    """

    def __init__(self, pair_weight, dims: Dims = DEFAULT, **kwargs):
        super().__init__(**kwargs)
        self.pair_weight, self.dims = pair_weight, dims
        dtype = self.dtype_policy
        self.audio_encoder = AudioEncoder(dims.latent_dim, dims.conv_filters, dims.conv_kernel,
                                          dims.conv_layers, dims.audio_rnn_units, dtype=dtype,
                                          name="audio_encoder")
        self.text_encoder = TextEncoder(dims.vocab_size, dims.embedding_dim, dims.latent_dim,
                                        dims.text_rnn_units, dtype=dtype, name="text_encoder")
        self.fusion = ConcatFusion(dtype=dtype, name="fusion")
        self.classifier = EmotionClassifier(dims.num_classes, dims.dropout, dtype=dtype,
                                            name="classifier")
        self.discriminator = None
        if pair_weight > 0:
            self.discriminator = PairDiscriminator("infonce", dims.discriminator_units,
                                                   dims.temperature, dtype=dtype,
                                                   name="discriminator")

    def call(self, inputs, training=None):
        audio_code = self.audio_encoder(inputs["audio"], mask=inputs["audio_mask"],
                                        training=training)
        text_code = self.text_encoder(inputs["tokens"], mask=inputs["text_mask"],
                                      training=training)
        logits = self.classifier(self.fusion([audio_code, text_code]), training=training)
        ce = classification_loss(inputs["labels"], logits)
        if self.discriminator is None:
            return ce, ce
        pair = pair_loss(self.discriminator, audio_code, text_code, inputs["labels"],
                         self.dims.pairing)
        return combine_losses(ce, pair.loss, self.pair_weight, self.dims.objective), ce


def random_batch(batch, shape, seed=0, dims: Dims = DEFAULT):
    """Random inputs shaped like emokit's pipeline (right-padded masks), as numpy arrays."""
    rng = np.random.default_rng(seed)
    frames, words = shape["frames"], shape["words"]
    audio_len = rng.integers(shape["min_frames"], frames + 1, size=batch)
    text_len = rng.integers(shape["min_words"], words + 1, size=batch)
    audio_mask = np.arange(frames)[None, :] < audio_len[:, None]
    text_mask = np.arange(words)[None, :] < text_len[:, None]
    audio = rng.standard_normal((batch, frames, dims.feature_dim)).astype("float32")
    tokens = rng.integers(1, dims.vocab_size, size=(batch, words)).astype("int32")
    return {"audio": audio * audio_mask[..., None], "audio_mask": audio_mask,
            "tokens": np.where(text_mask, tokens, 0).astype("int32"), "text_mask": text_mask,
            "labels": rng.integers(0, dims.num_classes, size=batch).astype("int32")}


def build(dtype_policy, pair_weight, shape, dims: Dims = DEFAULT):
    """A built model and optimizer under ``dtype_policy`` (set globally before building)."""
    keras.config.set_dtype_policy(dtype_policy)
    keras.utils.set_random_seed(0)
    model = BenchModel(pair_weight, dims)
    model(random_batch(2, shape, seed=1, dims=dims))  # creates every variable, discriminator included
    optimizer = keras.optimizers.Adam(LEARNING_RATE, global_clipnorm=CLIPNORM)
    if dtype_policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    optimizer.build(model.trainable_variables)
    return model, optimizer


def make_train_step(model, optimizer):
    """A jitted ``step(state, batch) -> (loss, ce, state)``; ``state = (trainable,
    non_trainable, optimizer_variables)`` as lists of arrays (donated)."""
    scales_loss = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)

    def loss_fn(trainable, non_trainable, optimizer_vars, batch):
        (loss, ce), non_trainable = model.stateless_call(trainable, non_trainable, batch,
                                                         training=True)
        scaled = loss
        if scales_loss:  # as keras' JAX trainer: the current dynamic scale from the state
            mapping = list(zip(optimizer.variables, optimizer_vars))
            with keras.StatelessScope(state_mapping=mapping):
                scaled = optimizer.scale_loss(loss)
        return scaled, (loss, ce, non_trainable)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def step(state, batch):
        trainable, non_trainable, optimizer_vars = state
        (_, (loss, ce, non_trainable)), grads = grad_fn(trainable, non_trainable,
                                                         optimizer_vars, batch)
        trainable, optimizer_vars = optimizer.stateless_apply(optimizer_vars, grads, trainable)
        return loss, ce, (trainable, non_trainable, optimizer_vars)

    return jax.jit(step, donate_argnums=0)


def peak_bytes():
    stats = jax.devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use")


def xla_memory_bytes(compiled):
    """XLA's static estimate of the step's device memory: arguments + outputs + temporaries
    - donated (aliased) buffers."""
    try:
        m = compiled.memory_analysis()
        return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
                   - m.alias_size_in_bytes)
    except Exception:  # noqa: BLE001 -- not every backend/version reports it
        return None


def bench(dtype_policy, batch_size, pair_weight, shape):
    """Compile and time one configuration -> dict of results."""
    model, optimizer = build(dtype_policy, pair_weight, shape)
    step = make_train_step(model, optimizer)
    state = ([v.value for v in model.trainable_variables],
             [v.value for v in model.non_trainable_variables],
             [v.value for v in optimizer.variables])
    batch = jax.device_put(random_batch(batch_size, shape))

    start = time.perf_counter()
    lowered = step.lower(state, batch)
    trace_s = time.perf_counter() - start
    compiled = lowered.compile()
    compile_s = time.perf_counter() - start

    loss = ce = None
    for _ in range(shape["warmup"]):
        loss, ce, state = compiled(state, batch)
    jax.block_until_ready((loss, state))
    times = []
    for _ in range(shape["steps"]):
        start = time.perf_counter()
        loss, ce, state = compiled(state, batch)
        jax.block_until_ready((loss, state))
        times.append(time.perf_counter() - start)
    loss, ce = float(loss), float(ce)
    if not (np.isfinite(loss) and np.isfinite(ce)):
        raise FloatingPointError(f"{dtype_policy} batch {batch_size}: loss {loss}, ce {ce}")
    median = statistics.median(times)
    result = {
        "dtype_policy": dtype_policy, "batch": batch_size, "pair_weight": pair_weight,
        "objective": "CE + 0.5 * InfoNCE" if pair_weight else "CE (baseline)",
        "trainable_params": int(sum(np.prod(v.shape) for v in model.trainable_variables)),
        "trace_s": round(trace_s, 3), "compile_s": round(compile_s, 3), "median_step_ms": round(1e3 * median, 3),
        "p10_step_ms": round(1e3 * float(np.percentile(times, 10)), 3),
        "p90_step_ms": round(1e3 * float(np.percentile(times, 90)), 3),
        "timed_steps": len(times), "utterances_per_s": round(batch_size / median, 1),
        "xla_step_memory_mib": _mib(xla_memory_bytes(compiled)),
        "peak_bytes_in_use_mib": _mib(peak_bytes()), "final_loss": round(loss, 4),
        "final_ce": round(ce, 4),
    }
    del model, optimizer, step, lowered, compiled, state, batch
    keras.backend.clear_session()
    gc.collect()
    return result


def _mib(n):
    return None if n is None else round(n / 2**20, 1)


def environment():
    device = jax.devices()[0]
    return {"python": platform.python_version(), "jax": jax.__version__,
            "keras": keras.__version__, "backend": keras.backend.backend(),
            "device": str(device), "device_kind": getattr(device, "device_kind", None),
            "platform": device.platform, "jax_default_matmul_precision":
                jax.config.jax_default_matmul_precision,
            "emokit_layers": sys.modules["emokit.model.layers"].__file__}


def markdown_table(results):
    header = ("| objective | dtype policy | batch | compile s | median step ms | p10-p90 ms "
              "| utt/s | XLA step MiB | peak MiB (running) |")
    lines = [header, "|" + "---|" * 9]
    for r in results:
        lines.append(
            f"| {r['objective']} | {r['dtype_policy']} | {r['batch']} | {r['compile_s']:.1f} | "
            f"{r['median_step_ms']:.2f} | {r['p10_step_ms']:.2f}-{r['p90_step_ms']:.2f} | "
            f"{r['utterances_per_s']:.0f} | {r['xla_step_memory_mib']} | "
            f"{r['peak_bytes_in_use_mib']} |")
    return "\n".join(lines)


def planned_runs(dtypes, batches, baseline_batch):
    """``(dtype_policy, batch, pair_weight)`` in order of importance (a run cut short by the
    time budget loses the least useful ones): baseline and pair loss at the baseline batch in
    float32, the other policies at that batch, then the other batch sizes."""
    runs = [("float32", baseline_batch, 0.0)]
    runs += [(d, baseline_batch, PAIR_WEIGHT) for d in dtypes if baseline_batch in batches]
    runs += [(d, b, PAIR_WEIGHT) for b in batches if b != baseline_batch for d in dtypes]
    return runs


def summarize(env, shape, smoke, started, results, baseline_batch):
    """The JSON report; ``pair_loss_relative_cost_fp32``: pair-loss step time / baseline - 1."""
    ok = [r for r in results if "error" not in r]
    base = next((r for r in ok if r["pair_weight"] == 0), None)
    pair = next((r for r in ok if r["pair_weight"] > 0 and r["dtype_policy"] == "float32"
                 and r["batch"] == baseline_batch), None)
    pair_cost = None
    if base and pair:
        pair_cost = round(pair["median_step_ms"] / base["median_step_ms"] - 1.0, 4)
    return {"environment": env, "shape": shape, "smoke": smoke,
            "total_s": round(time.perf_counter() - started, 1),
            "pair_loss_relative_cost_fp32": pair_cost, "results": results}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="batch 4, tiny lengths, 2 timed steps: a quick CPU check")
    parser.add_argument("--batches", type=int, nargs="+", help="override the batch sizes")
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, default=DTYPES)
    parser.add_argument("--steps", type=int, help="timed steps per configuration (default 20)")
    parser.add_argument("--budget-s", type=float, default=200.0,
                        help="start no configuration that would likely end past this many seconds")
    args = parser.parse_args(argv)
    if keras.backend.backend() != "jax":
        raise SystemExit(f"run with KERAS_BACKEND=jax (got {keras.backend.backend()!r})")
    shape = dict(SMOKE if args.smoke else FULL)
    if args.batches:
        shape["batches"] = args.batches
    if args.steps:
        shape["steps"] = args.steps
    baseline_batch = shape["batches"][0] if args.smoke else BASELINE_BATCH

    env = environment()
    print(json.dumps(env), flush=True)
    out_dir = os.environ.get("OUT")
    out_path = os.path.join(out_dir, "gpu_keras_jax.json") if out_dir else None
    started = time.perf_counter()
    results = []
    for dtype_policy, batch_size, weight in planned_runs(args.dtypes, shape["batches"],
                                                         baseline_batch):
        elapsed = time.perf_counter() - started
        last = results[-1].get("wall_s", 0.0) if results else 0.0
        if elapsed + last > args.budget_s:
            r = {"dtype_policy": dtype_policy, "batch": batch_size, "pair_weight": weight,
                 "error": f"skipped: {elapsed:.0f} s used of the {args.budget_s:.0f} s budget"}
        else:
            begin = time.perf_counter()
            try:
                r = bench(dtype_policy, batch_size, weight, shape)
                r["wall_s"] = round(time.perf_counter() - begin, 1)
            except Exception as error:  # noqa: BLE001 -- keep the other configurations' numbers
                r = {"dtype_policy": dtype_policy, "batch": batch_size, "pair_weight": weight,
                     "error": f"{type(error).__name__}: {error}"}
        print(json.dumps(r), flush=True)
        results.append(r)
        report = summarize(env, shape, args.smoke, started, results, baseline_batch)
        if out_path:  # after every configuration, so a killed run keeps what it measured
            with open(out_path, "w") as f:
                json.dump(report, f, indent=1)
    if out_path:
        print(f"wrote {out_path}")
    ok = [r for r in results if "error" not in r]
    total_s, pair_cost = report["total_s"], report["pair_loss_relative_cost_fp32"]
    print(f"\ntotal {total_s} s on {env['device_kind'] or env['device']}; "
          f"pair loss cost at batch {baseline_batch} float32: "
          f"{'n/a' if pair_cost is None else f'{100 * pair_cost:+.1f}%'} step time")
    order = {d: i for i, d in enumerate(DTYPES)}
    print(markdown_table(sorted(ok, key=lambda r: (r["pair_weight"], order[r["dtype_policy"]],
                                                    r["batch"]))))
    for r in results:
        if "error" in r:
            print(f"NOT MEASURED {r['dtype_policy']} batch {r['batch']} weight "
                  f"{r['pair_weight']}: {r['error']}")
    return 1 if len(ok) < len(results) else 0


if __name__ == "__main__":
    sys.exit(main())
