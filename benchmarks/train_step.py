"""Speed of one training step: with vs without the discriminator, compiled vs eager, and the
epoch time this gives on IEMOCAP-size and mini-corpus folds.

    python benchmarks/train_step.py [--frames 450] [--batch 32] [--steps 20]

Every discriminator kind is timed, and infonce with ``pair_loss_scaling: grad_ratio`` (two
backward passes). Targets: the contrastive step costs at most 1.15x the baseline step; a CPU epoch on the
IEMOCAP-size fold (~4.4k training utterances) takes well under two minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from emokit.config import DISCRIMINATORS, ModelConfig, TrainConfig

FEATURE_DIM = 42
VOCAB_SIZE = 3000
NUM_CLASSES = 4


def random_batch(batch, frames, words, seed=0):
    """One padded batch in the pipeline's format, lengths spread from half to full."""
    rng = np.random.default_rng(seed)
    audio_len = rng.integers(frames // 2, frames + 1, batch)
    text_len = rng.integers(max(1, words // 2), words + 1, batch)
    inputs = {"audio": rng.normal(size=(batch, frames, FEATURE_DIM)).astype("float32"),
              "audio_mask": np.arange(frames) < audio_len[:, None],
              "tokens": rng.integers(2, VOCAB_SIZE, (batch, words)).astype("int32"),
              "text_mask": np.arange(words) < text_len[:, None]}
    return inputs, rng.integers(0, NUM_CLASSES, batch).astype("int32")


def seconds_per_step(steps_by_name, inputs, labels, rounds):
    """Median wall time per step of each ``name -> step function``, after two warm-up calls
    (tracing excluded). The functions take turns, so a busy machine slows them alike."""
    times = {name: [] for name in steps_by_name}
    for name, step in steps_by_name.items():
        start = time.perf_counter()
        float(step(inputs, labels)["loss"])
        print(f"{name:22s} first call (tracing): {time.perf_counter() - start:6.1f} s")
        float(step(inputs, labels)["loss"])
    for _ in range(rounds):
        for name, step in steps_by_name.items():
            start = time.perf_counter()
            float(step(inputs, labels)["loss"])
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def trainer_for(model_config, train_config):
    from emokit.model.emotion_model import build_model
    from emokit.training.trainer import Trainer

    model = build_model(model_config, FEATURE_DIM, VOCAB_SIZE, NUM_CLASSES)
    return Trainer(model, train_config)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=450, help="padded frames per batch")
    parser.add_argument("--words", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--preset", help="use this preset's ModelConfig (quick, full, paper)")
    parser.add_argument("--deterministic", action="store_true",
                        help="tf.config.experimental.enable_op_determinism() first")
    parser.add_argument("--xla", action="store_true")
    parser.add_argument("--mixed-precision", action="store_true")
    args = parser.parse_args()

    import tensorflow as tf

    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"GPUs: {len(tf.config.list_physical_devices('GPU'))}, TF {tf.__version__}")
    print(f"batch {args.batch} x {args.frames} frames x {FEATURE_DIM} dims, {args.words} words")
    train_config = TrainConfig(xla=args.xla, mixed_precision=args.mixed_precision, verbose=0)
    print(f"xla={args.xla} mixed_precision={args.mixed_precision} "
          f"deterministic={args.deterministic}")
    inputs, labels = random_batch(args.batch, args.frames, args.words)
    inputs = {k: tf.constant(v) for k, v in inputs.items()}
    labels = tf.constant(labels)
    base_config = ModelConfig()
    if args.preset:
        from emokit.config.presets import PRESETS

        base_config = PRESETS[args.preset]().model
    print(f"ModelConfig: {base_config}")

    trainers = {}
    variants = [("baseline", 0.0, "mlp", "none")]
    variants += [(f"contrastive {kind}", 0.1, kind, "none") for kind in DISCRIMINATORS]
    variants += [("infonce, grad_ratio", 0.1, "infonce", "grad_ratio")]
    for name, weight, kind, scaling in variants:
        pairing = "instance" if kind in ("mine", "shuffled_bce") else base_config.pairing
        config = dataclasses.replace(base_config, contrastive_weight=weight, discriminator=kind,
                                     pairing=pairing, pair_loss_scaling=scaling)
        trainers[name] = trainer_for(config, train_config)
    timings = seconds_per_step({n: t.step for n, t in trainers.items()}, inputs, labels,
                               args.steps)
    for name, seconds in timings.items():
        print(f"{name:22s} compiled step: {seconds * 1000:8.1f} ms"
              f"  ({seconds / timings['baseline']:.3f}x baseline)")
    eager = seconds_per_step({"eager": trainers["baseline"]._step}, inputs, labels,
                             max(3, args.steps // 5))["eager"]
    print(f"{'baseline':22s} eager step:    {eager * 1000:8.1f} ms"
          f"  (the compiled step is {eager / timings['baseline']:.1f}x faster)")

    for corpus, utterances in [("IEMOCAP-size fold", 4400), ("mini-corpus fold", 280)]:
        steps = int(np.ceil(utterances / args.batch))
        for name in ("baseline", "contrastive mlp"):
            print(f"{corpus} ({utterances} train utterances, {steps} steps), {name}: "
                  f"~{steps * timings[name]:.1f} s per epoch of training steps "
                  f"(at {args.frames} padded frames)")


if __name__ == "__main__":
    main()
