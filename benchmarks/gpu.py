"""The GPU path, measured on whatever accelerator TensorFlow sees (the CPU if none).

    python benchmarks/gpu.py [--json PATH] [--steps 20] [--epochs 2]
    python benchmarks/gpu.py --smoke      # tiny data and model, on the CPU in seconds (tested)

1. **Training step**, baseline and contrastive, in fp32 and mixed precision, with XLA off and on
   (``TrainConfig.mixed_precision`` / ``xla``; a variant that fails, e.g. XLA around cuDNN's GRU
   op, is reported with its error), on batches made by ``emokit.data.pipeline``.
2. **cuDNN**: whether the GRUs run cuDNN's fused kernel. Keras 3 on TensorFlow picks it when a GPU
   is visible and the GRU has its default settings (tanh/sigmoid, ``reset_after``, a bias, no
   recurrent dropout, not unrolled); the kernel then asserts at run time that every mask is
   right-padded with no fully masked row. The script counts the ``CudnnRNN*`` ops in the traced
   step and checks every mask of one pipeline epoch.
3. **One IEMOCAP-size fold** (4,400 training and 550 validation utterances of 100-2,000 frames,
   1-40 words) of baseline and regularized training with the ``full`` preset's model under
   ``emokit.training.runtime.use_accelerator``: seconds per epoch (training pass + validation) and the
   memory peak (GPU: TensorFlow's allocator peak; CPU: the process' peak RSS).
4. **The ``full`` preset's wall time**, projected from those epoch times: every run (systems x
   folds x seeds) at its epoch cap, and at the shortest early stop (``patience + 1`` epochs).

Prints a table and writes everything as JSON (default ``<results>/benchmarks/gpu.json``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the other benchmarks
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from pipeline import random_examples
from train_step import seconds_per_step

from emokit.config import ExperimentConfig, ModelConfig, TrainConfig
from emokit.config.presets import full
from emokit.data.features import feature_dim
from emokit.data.pipeline import Examples, make_dataset
from emokit.model.emotion_model import build_model
from emokit.training.runtime import use_accelerator

VOCAB_SIZE = 3000
NUM_CLASSES = 4
IEMOCAP_FOLD = {"train": 4400, "val": 550}
SMOKE_FOLD = {"train": 48, "val": 16}
SMOKE_MODEL = ModelConfig(latent_dim=8, audio_conv_filters=8, audio_conv_layers=1,
                          audio_rnn_units=8, text_rnn_units=8, discriminator_units=8)


def device_info() -> dict:
    """The accelerator this runs on, and the versions."""
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    details = [tf.config.experimental.get_device_details(g) for g in gpus]
    return {"gpus": [d.get("device_name", "GPU") for d in details],
            "compute_capability": [d.get("compute_capability") for d in details],
            "cpu": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "python": platform.python_version()}


def fold_examples(sizes: dict, config: ExperimentConfig, smoke: bool) -> dict[str, Examples]:
    """Random utterances of IEMOCAP's length spread (or tiny ones), split into train and val."""
    dim = feature_dim(config.features)
    total = sum(sizes.values())
    if smoke:
        rng = np.random.default_rng(0)
        everything = Examples(
            audio=[rng.normal(size=(n, dim)).astype(np.float32)
                   for n in rng.integers(20, 81, total)],
            tokens=[rng.integers(1, VOCAB_SIZE, w).astype(np.int32)
                    for w in rng.integers(1, 11, total)],
            labels=rng.integers(0, NUM_CLASSES, total).astype(np.int32))
    else:
        everything = random_examples(total, dim, config.pipeline)

    def part(start, stop):
        return Examples(everything.audio[start:stop], everything.tokens[start:stop],
                        everything.labels[start:stop])

    return {"train": part(0, sizes["train"]), "val": part(sizes["train"], total)}


def benchmark_config(smoke: bool) -> ExperimentConfig:
    """The ``full`` preset as ``use_accelerator`` sets it up here (shrunk for ``--smoke``)."""
    config = use_accelerator(full())
    if smoke:
        config = dataclasses.replace(
            config, model=SMOKE_MODEL,
            pipeline=dataclasses.replace(config.pipeline, batch_size=8, max_frames=80,
                                         bucket_width=40, max_words=10),
            train=dataclasses.replace(config.train, epochs=2, patience=1))
    return config


def systems(config: ExperimentConfig) -> dict[str, ModelConfig]:
    """Baseline (lambda = 0) and the regularized model (the preset's discriminator, lambda 0.1:
    the cost of a step does not depend on lambda)."""
    return {"baseline": dataclasses.replace(config.model, contrastive_weight=0.0),
            "contrastive": dataclasses.replace(config.model, contrastive_weight=0.1)}


def trainer_for(model_config: ModelConfig, train_config: TrainConfig, dim: int):
    from emokit.training.trainer import Trainer

    return Trainer(build_model(model_config, dim, VOCAB_SIZE, NUM_CLASSES), train_config)


def step_variants(config: ExperimentConfig, batch, steps: int, names: list[str]):
    """Milliseconds per compiled training step of each system in ``names`` x precision x XLA
    -> (table rows, the fp32 no-XLA trainer of ``names[0]`` for the cuDNN check)."""
    import tensorflow as tf

    inputs, labels = batch
    dim = int(inputs["audio"].shape[-1])
    rows, plain = [], None
    for mixed in (False, True):
        for xla in (False, True):
            train = dataclasses.replace(config.train, mixed_precision=mixed, xla=xla, verbose=0,
                                        distribute=False)
            for name in names:
                row = {"system": name, "precision": "mixed_float16" if mixed else "float32",
                       "xla": xla}
                try:
                    trainer = trainer_for(systems(config)[name], train, dim)
                    seconds = seconds_per_step({name: trainer.step}, inputs, labels, steps)
                    row["step_ms"] = 1000 * seconds[name]
                    if not (mixed or xla or plain):
                        plain = trainer
                except (tf.errors.OpError, ValueError) as error:  # e.g. XLA around cuDNN GRUs
                    first_line = (str(error).strip().splitlines() or [""])[0][:200]
                    row["error"] = f"{type(error).__name__}: {first_line}"
                rows.append(row)
    return rows, plain


def traced_op_types(trainer, inputs, labels) -> Counter:
    """Op types of the traced training step, nested functions (the gradient pass) included."""
    graph_def = trainer.step.get_concrete_function(inputs, labels).graph.as_graph_def()
    types = Counter(node.op for node in graph_def.node)
    for function in graph_def.library.function:
        types.update(node.op for node in function.node_def)
    return types


def right_padded(mask: np.ndarray) -> bool:
    """True where each row is ``True...True False...False`` with at least one True (what
    cuDNN's GRU kernel asserts)."""
    lengths = mask.sum(axis=1)
    return bool((lengths > 0).all()
                and (mask == (np.arange(mask.shape[1]) < lengths[:, None])).all())


def cudnn_check(trainer, train_ds, batch) -> dict:
    """Does ``trainer``'s step run cuDNN's fused GRU kernel with the pipeline's masks?"""
    import tensorflow as tf

    inputs, labels = batch
    types = traced_op_types(trainer, inputs, labels)
    cudnn_ops = sum(n for op, n in types.items() if op.startswith("CudnnRNN"))
    masks = [(x["audio_mask"].numpy(), x["text_mask"].numpy()) for x, _ in train_ds]
    masks_ok = all(right_padded(a) and right_padded(t) for a, t in masks)
    gpu = bool(tf.config.list_logical_devices("GPU"))
    if not gpu:
        verdict = "no GPU: Keras runs the GRUs' generic loop"
    elif cudnn_ops and masks_ok:
        verdict = "fused cuDNN GRU kernels, the pipeline's masks qualify"
    elif cudnn_ops:
        verdict = "cuDNN ops traced, but some masks are not right-padded: that step would fail"
    else:
        verdict = "generic GRU loop on the GPU (a setting rules cuDNN out)"
    return {"gpu_visible": gpu, "cudnn_rnn_ops_in_step": cudnn_ops,
            "while_loops_in_step": types.get("While", 0) + types.get("StatelessWhile", 0),
            "batches_checked": len(masks), "masks_right_padded": masks_ok,
            "fused": gpu and cudnn_ops > 0 and masks_ok, "verdict": verdict}


def reset_memory_peak() -> None:
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        tf.config.experimental.reset_memory_stats("GPU:0")


def memory_peak_mb() -> tuple[float, str]:
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20, "GPU peak"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process peak RSS"


def train_fold(config: ExperimentConfig, data: dict, epochs: int) -> list[dict]:
    """Seconds per epoch (training pass + validation) and memory peak of each system."""
    from emokit.training.forward import evaluate

    train_ds = make_dataset(data["train"], config.pipeline, training=True)
    val_ds = make_dataset(data["val"], config.pipeline, training=False)
    dim = int(data["train"].audio[0].shape[1])
    rows = []
    for name, model_config in systems(config).items():
        reset_memory_peak()
        trainer = trainer_for(model_config, dataclasses.replace(config.train, verbose=0), dim)
        trainer.compile_for(train_ds.element_spec)
        seconds = []
        for epoch in range(epochs):
            start = time.perf_counter()
            logs = trainer.run_epoch(train_ds, epoch)
            evaluate(trainer.model, val_ds, NUM_CLASSES)
            seconds.append(time.perf_counter() - start)
        peak, kind = memory_peak_mb()
        rows.append({"system": name, "epoch_seconds": seconds,
                     "steady_epoch_seconds": seconds[-1] if epochs == 1 else
                     float(np.median(seconds[1:])),
                     "first_epoch_seconds": seconds[0], "memory_peak_mb": peak,
                     "memory_kind": kind, "final_loss": logs["loss"]})
    return rows


def project_full(config: ExperimentConfig, fold_rows: list[dict]) -> dict:
    """The ``full`` preset's training time from the measured epochs: unimodal runs are
    counted at the baseline's epoch time (an upper bound), contrastive runs at the regularized
    one; plus each run's first-epoch (tracing) overhead."""
    from emokit.config.systems import expand_systems

    by_name = {row["system"]: row for row in fold_rows}
    folds, seeds = 5, len(config.seeds)
    per_run = {}
    for system in expand_systems(config):
        row = by_name["contrastive" if system.contrastive_weight > 0 else "baseline"]
        per_run[system.name] = (row["steady_epoch_seconds"],
                                row["first_epoch_seconds"] - row["steady_epoch_seconds"])
    runs = len(per_run) * folds * seeds

    def total(epochs):
        return sum(epochs * epoch + overhead for epoch, overhead in per_run.values()) * folds * seeds

    shortest = min(config.train.patience + 1, config.train.epochs)
    return {"runs": runs, "systems": len(per_run), "folds": folds, "seeds": seeds,
            "epoch_cap": config.train.epochs, "shortest_early_stop": shortest,
            "hours_at_epoch_cap": total(config.train.epochs) / 3600,
            "hours_at_shortest_stop": total(shortest) / 3600}


def print_table(result: dict) -> None:
    info = result["device"]
    print(f"\nDevice: {', '.join(info['gpus']) or 'no GPU'} ({info['cpu']}); TensorFlow "
          f"{info['tensorflow']}, Keras {info['keras']}, Python {info['python']}"
          f"{'  [--smoke: tiny data, numbers mean nothing]' if result['smoke'] else ''}")
    print(f"batch {result['batch_size']}, padded to {result['step_batch_shape']}\n")
    print("| system | precision | XLA | ms per step |\n|---|---|---|---:|")
    for row in result["steps"]:
        cell = f"{row['step_ms']:.1f}" if "step_ms" in row else f"failed: {row['error']}"
        print(f"| {row['system']} | {row['precision']} | {'on' if row['xla'] else 'off'} "
              f"| {cell} |")
    cudnn = result["cudnn"]
    print(f"\ncuDNN: {cudnn['verdict']} ({cudnn['cudnn_rnn_ops_in_step']} CudnnRNN ops in the "
          f"step; masks right-padded in {cudnn['batches_checked']} batches: "
          f"{cudnn['masks_right_padded']})\n")
    print("| fold training | s per epoch (first, with tracing) | memory peak |\n|---|---:|---:|")
    for row in result["fold"]:
        print(f"| {row['system']} | {row['steady_epoch_seconds']:.1f} "
              f"({row['first_epoch_seconds']:.1f}) | {row['memory_peak_mb']:.0f} MB "
              f"({row['memory_kind']}) |")
    p = result["full_projection"]
    print(f"\n`full` preset: {p['runs']} runs ({p['systems']} systems x {p['folds']} folds x "
          f"{p['seeds']} seeds): {p['hours_at_shortest_stop']:.1f} h if every run stops at "
          f"epoch {p['shortest_early_stop']}, {p['hours_at_epoch_cap']:.1f} h at the "
          f"{p['epoch_cap']}-epoch cap (training only; corpus and features not included)")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true",
                        help="tiny data and model, on the CPU in seconds (hides any GPU)")
    parser.add_argument("--steps", type=int, help="timed steps per variant (20; smoke 2)")
    parser.add_argument("--epochs", type=int, help="epochs per fold run (2; smoke 1)")
    parser.add_argument("--json", help="where to write the results")
    args = parser.parse_args(argv)
    if args.smoke:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"  # before TensorFlow loads
    steps = args.steps or (2 if args.smoke else 20)
    epochs = args.epochs or (1 if args.smoke else 2)

    config = benchmark_config(args.smoke)
    data = fold_examples(SMOKE_FOLD if args.smoke else IEMOCAP_FOLD, config, args.smoke)
    train_ds = make_dataset(data["train"], config.pipeline, training=True)
    batch = max(train_ds, key=lambda b: b[0]["audio"].shape[1])  # the longest padded batch
    result = {"smoke": args.smoke, "device": device_info(),
              "batch_size": config.pipeline.batch_size,
              "step_batch_shape": list(batch[0]["audio"].shape),
              "train_config": dataclasses.asdict(config.train)}
    # --smoke times the contrastive step only (its graph contains the baseline's)
    names = ["contrastive"] if args.smoke else ["baseline", "contrastive"]
    result["steps"], plain_trainer = step_variants(config, batch, steps, names)
    result["cudnn"] = cudnn_check(plain_trainer, train_ds, batch)
    result["fold"] = train_fold(config, data, epochs)
    result["full_projection"] = project_full(full(), result["fold"])
    print_table(result)
    if args.json:
        out = Path(args.json)
    else:
        from emokit.core.paths import results_dir

        out = results_dir() / "benchmarks" / ("gpu-smoke.json" if args.smoke else "gpu.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nwritten: {out}")
    return result


if __name__ == "__main__":
    main()
