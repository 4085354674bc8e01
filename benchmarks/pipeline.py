"""Is the input pipeline ever what a training step waits on?

Builds IEMOCAP-sized random data (5,531 utterances, 100-2,000 frames of the default feature
dimension, 1-40 words), then measures:

- batches per second of one training epoch of ``emokit.data.pipeline.make_dataset`` (bucketed and
  not), with the share of padded frames;
- the time of one training step of a model on those batches: the real ``emokit.model.emotion_model`` baseline
  when it is importable, else a stand-in of similar size (Conv1D 64 + GRU 64 on audio, GRU 64 on
  tokens), said in the output.

Run: ``python benchmarks/pipeline.py [--utterances 5531] [--steps 20]``
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from emokit.config import ExperimentConfig
from emokit.data.features import feature_dim
from emokit.data.pipeline import Examples, make_dataset, truncate_frames


def random_examples(count: int, dim: int, config, seed: int = 0) -> Examples:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(100, 2001, size=count)
    return Examples(
        audio=[truncate_frames(rng.normal(size=(n, dim)).astype(np.float32), config)
               for n in lengths],
        tokens=[rng.integers(1, 3000, size=w).astype(np.int32)
                for w in rng.integers(1, 41, size=count)],
        labels=rng.integers(0, 4, size=count).astype(np.int32))


def time_epoch(dataset) -> tuple[float, int, float]:
    """(seconds, batches, padded share of frames) of one pass over ``dataset``."""
    start = time.perf_counter()
    batches, real, total = 0, 0, 0
    for inputs, _ in dataset:
        mask = inputs["audio_mask"]
        real += int(np.count_nonzero(mask))
        total += int(np.prod(mask.shape))
        batches += 1
    return time.perf_counter() - start, batches, 1 - real / total


def build_step_model(config: ExperimentConfig, dim: int, vocab_size: int):
    """The real baseline model if ``emokit.model.emotion_model`` exists, else a similar-size stand-in."""
    import keras

    try:
        from emokit.model.emotion_model import build_model

        return build_model(config.model, dim, vocab_size, 4), "emokit.model.emotion_model baseline"
    except ImportError as e:
        reason = f"stand-in Conv1D+GRU 64 / GRU 64 (emokit.model.emotion_model not importable: {e})"
    audio = keras.Input((None, dim), name="audio")
    audio_mask = keras.Input((None,), dtype="bool", name="audio_mask")
    tokens = keras.Input((config.pipeline.max_words,), dtype="int32", name="tokens")
    text_mask = keras.Input((config.pipeline.max_words,), dtype="bool", name="text_mask")
    a = keras.layers.Conv1D(64, 5, padding="same", activation="relu")(audio)
    a = keras.layers.MaxPooling1D(2)(a)
    a = keras.layers.GRU(64)(a)
    t = keras.layers.Embedding(vocab_size, 100, mask_zero=True)(tokens)
    t = keras.layers.GRU(64)(t)
    logits = keras.layers.Dense(4)(keras.layers.Concatenate()([a, t]))
    inputs = {"audio": audio, "audio_mask": audio_mask, "tokens": tokens, "text_mask": text_mask}
    return keras.Model(inputs, logits), reason


def time_train_steps(model, batches) -> float:
    """Mean seconds per training step (cross-entropy, Adam) over ``batches``, after a warm-up
    step on each distinct shape."""
    import keras
    import tensorflow as tf

    model(batches[0][0])  # build
    variables = model.trainable_variables
    optimizer = keras.optimizers.Adam()
    optimizer.build(variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function(reduce_retracing=True)
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        pairs = [(g, v) for g, v in zip(tape.gradient(loss, variables), variables) if g is not None]
        optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])
        return loss

    for x, y in {b[0]["audio"].shape[1]: b for b in batches}.values():
        step(x, y).numpy()  # trace every distinct shape once
    start = time.perf_counter()
    for x, y in batches:
        loss = step(x, y)
    loss.numpy()
    return (time.perf_counter() - start) / len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=5531)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()

    import tensorflow as tf

    config = ExperimentConfig()
    dim = feature_dim(config.features)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"GPUs: {[d.name for d in tf.config.list_physical_devices('GPU')]}, TF {tf.__version__}")
    print(f"data: {args.utterances} utterances x 100-2000 frames x {dim} dims, "
          f"max_frames={config.pipeline.max_frames}, batch {config.pipeline.batch_size}, "
          f"bucket_width={config.pipeline.bucket_width}")
    examples = random_examples(args.utterances, dim, config.pipeline)
    for bucket in (True, False):
        pipeline = dataclasses.replace(config.pipeline, bucket_by_length=bucket)
        dataset = make_dataset(examples, pipeline, training=True)
        time_epoch(dataset)  # first pass warms up tf.data
        seconds, batches, padding = time_epoch(dataset)
        print(f"pipeline bucket_by_length={bucket}: {batches / seconds:.0f} batches/s "
              f"({1000 * seconds / batches:.1f} ms/batch), padded frames {padding:.1%}")

    dataset = make_dataset(examples, config.pipeline, training=True)
    batches = [(x, y) for x, y in dataset.take(args.steps)]
    model, name = build_step_model(config, dim, 3000)
    step = time_train_steps(model, batches)
    print(f"train step ({name}): {1000 * step:.0f} ms/batch over {len(batches)} batches")


if __name__ == "__main__":
    main()
