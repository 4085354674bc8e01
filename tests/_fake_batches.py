"""Small random datasets with the pipeline's structure, for the model and training tests."""

import numpy as np

FEATURE_DIM = 6
VOCAB_SIZE = 30
NUM_CLASSES = 4


def fake_examples(n, frames=(10, 24), words=(3, 8), seed=0):
    """``n`` utterances, right-padded to the longest: a dict of numpy arrays and int32 labels.
    Labels are learnable: the class shifts the audio mean and picks the first word."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, n).astype("int32")
    audio_len = rng.integers(frames[0], frames[1] + 1, n)
    text_len = rng.integers(words[0], words[1] + 1, n)
    audio = np.zeros((n, frames[1], FEATURE_DIM), "float32")
    tokens = np.zeros((n, words[1]), "int32")
    for i in range(n):
        audio[i, : audio_len[i]] = rng.normal(labels[i] * 0.5, 1.0, (audio_len[i], FEATURE_DIM))
        tokens[i, : text_len[i]] = rng.integers(2, VOCAB_SIZE, text_len[i])
        tokens[i, 0] = 2 + labels[i]
    inputs = {"audio": audio, "audio_mask": np.arange(frames[1]) < audio_len[:, None],
              "tokens": tokens, "text_mask": np.arange(words[1]) < text_len[:, None]}
    return inputs, labels


def fake_dataset(n=32, batch_size=8, seed=0, **kwargs):
    """A ``tf.data.Dataset`` of ``(inputs, labels)`` batches like ``emokit.data.pipeline``'s."""
    import tensorflow as tf

    inputs, labels = fake_examples(n, seed=seed, **kwargs)
    return tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(batch_size)


def bucketed_dataset(shapes, batch_size=4, seed=0):
    """Batches of a few different padded lengths: ``shapes`` = [(frames, words), ...], one batch
    each, as a bucketed pipeline yields them."""
    import tensorflow as tf

    def batches():
        for k, (frames, words) in enumerate(shapes):
            inputs, labels = fake_examples(batch_size, (frames, frames), (words, words), seed + k)
            yield inputs, labels

    spec = ({"audio": tf.TensorSpec((None, None, FEATURE_DIM), tf.float32),
             "audio_mask": tf.TensorSpec((None, None), tf.bool),
             "tokens": tf.TensorSpec((None, None), tf.int32),
             "text_mask": tf.TensorSpec((None, None), tf.bool)},
            tf.TensorSpec((None,), tf.int32))
    return tf.data.Dataset.from_generator(batches, output_signature=spec)
