"""One fold of the corpus as padded, masked ``tf.data`` batches.

:func:`prepare_fold` fits everything that learns from data on the fold's *training* utterances
only (vocabulary, word vectors, feature normalization statistics) and returns a :class:`FoldData`
whose datasets yield ``(inputs, labels)``::

    inputs = {"audio":      float32 (batch, frames, feature_dim),
              "audio_mask": bool    (batch, frames),      # True on real frames
              "tokens":     int32   (batch, max_words),   # 0 = <pad>, 1 = <unk>
              "text_mask":  bool    (batch, max_words)}   # True on real words
    labels = int32 (batch,)   # -1 on unlabelled training turns (emokit.data.label_views)

Policies:

- Truncation: an utterance longer than ``PipelineConfig.max_frames`` keeps its *first*
  ``max_frames`` frames; a transcript longer than ``max_words`` keeps its first ``max_words`` words.
  A transcript with no words (only ``[LAUGHTER]``, say) becomes one ``<unk>``, so every text mask
  has at least one True entry (masked averages and attention never divide by zero).
- Padding: the frame axis of a batch is padded (with zeros, masked out) up to the next multiple of
  ``bucket_width``, capped at ``max_frames``: the model sees at most ``max_frames / bucket_width``
  distinct shapes, so a ``tf.function`` (or XLA) retraces only a few times. The word axis is always
  ``max_words`` long.
- Training order: with ``bucket_by_length`` utterances are grouped into buckets of equal padded
  length, shuffled within buckets, cut into batches, and the batches shuffled; the few utterances
  left over in each bucket are pooled, sorted by length and batched together, so at most one batch
  per epoch is smaller than ``batch_size``. Each new pass over the dataset is a new epoch whose
  order comes from ``(shuffle_seed, epoch number)``: a dataset made with the same seed gives the
  same sequence of epochs (peeking at a batch with ``next(iter(ds))`` uses up epoch 0).
- Validation and test: no shuffling, no bucketing, in ``val_ids`` / ``test_ids`` order.

Padding happens once per set of examples, not per batch: :func:`pad_once` zero-pads every
utterance to its own padded length (``padded_frames``) into one block per length, and a batch is
gathered from the blocks (one copy per block it draws from), bit for bit the batch
:func:`pad_batch` would build. :func:`prepare_fold` keeps the fold's examples as views into their
blocks, so the padded copy costs only the padding. All arrays stay in memory; a generator gathers
the batches and ``tf.data`` prefetches them.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from emokit.config import ExperimentConfig, PipelineConfig
from emokit.config.labels import class_names as class_names_of
from emokit.data.fold_text import fold_text
from emokit.data.folds import Fold
from emokit.data.label_views import FoldLabels, fold_labels
from emokit.data.manifest import Utterance
from emokit.data.text import Vocabulary
from emokit.data.word_vectors import Coverage


@dataclass
class PaddedBlocks:
    """Utterances zero-padded once, grouped by padded length, ready to be gathered into batches.

    ``audio[k]``: ``(utterances, frames_k, feature_dim)`` float32, the utterances whose padded
    length (:func:`padded_frames`) is ``frames[k]``; utterance ``i`` is row ``row[i]`` of block
    ``block[i]`` and keeps its first ``lengths[i]`` frames. ``tokens``: ``(n, max_words)`` int32,
    ``words (n,)`` the real words of each row. ``key``: the ``(max_frames, bucket_width,
    max_words)`` they were padded for."""

    audio: list[np.ndarray]
    frames: np.ndarray  # (blocks,) int
    block: np.ndarray  # (n,) int
    row: np.ndarray  # (n,) int
    lengths: np.ndarray  # (n,) int
    tokens: np.ndarray  # (n, max_words) int32
    words: np.ndarray  # (n,) int
    key: tuple[int, int, int]


@dataclass
class Examples:
    """Encoded utterances: audio ``(frames, feature_dim)`` and tokens ``(words,)`` per utterance.

    ``blocks``: the same utterances padded once (:func:`pack_examples`), or None (then each
    dataset made from them pads them once itself)."""

    audio: list[np.ndarray]
    tokens: list[np.ndarray]
    labels: np.ndarray  # (n,) int32
    blocks: PaddedBlocks | None = None


@dataclass
class FoldData:
    """A fold ready to train on: datasets plus what was fitted on its training utterances.

    ``train`` is a *fresh* dataset each time it is read, starting at epoch 0 of
    ``PipelineConfig.shuffle_seed``: runs that share a ``FoldData`` (several seeds or systems) each
    see the same sequence of epochs, whatever ran before them. ``train_dataset(shuffle_seed)``
    gives one with another seed: the experiment runner trains a run of seed ``s`` on
    ``train_dataset(data_order_seed(pipeline, s))``.
    """

    val: Any  # tf.data.Dataset in val_ids order
    test: Any  # tf.data.Dataset in test_ids order
    vocab: Vocabulary
    embedding_matrix: np.ndarray  # (len(vocab), vector dim) float32
    normalizer: Any  # emokit.data.normalization.FeatureNormalizer
    feature_dim: int
    num_classes: int
    class_names: list[str]
    train_ids: tuple[str, ...]
    val_ids: tuple[str, ...]
    test_ids: tuple[str, ...]
    train_examples: Examples
    pipeline: PipelineConfig
    coverage: Coverage | None = None  # of the pretrained vectors, when TextConfig.vectors_path
    test_examples: Examples | None = None  # what ``test`` batches (emokit.evaluation.degraded_folds degrades it)
    labels_seen: FoldLabels | None = None  # label noise, hidden and unlabelled turns of the fold
    feature_layers: int = 1  # > 1: encoder layers side by side in each frame (hub_layers weighted)

    @property
    def train(self):
        """A new training ``tf.data.Dataset`` (bucketed, reshuffled every epoch)."""
        return self.train_dataset()

    def train_dataset(self, shuffle_seed: int | None = None):
        """A new training dataset; ``shuffle_seed`` None = ``PipelineConfig.shuffle_seed``."""
        config = self.pipeline
        if shuffle_seed is not None:
            config = dataclasses.replace(config, shuffle_seed=shuffle_seed)
        return make_dataset(self.train_examples, config, training=True)

    @property
    def train_in_order(self):
        """The training utterances in ``train_ids`` order, unshuffled (for linear probes)."""
        return make_dataset(self.train_examples, self.pipeline, training=False)

    @property
    def train_by_length(self):
        """The training utterances shortest first, unshuffled: each batch is padded only to its
        own longest utterance's bucket, so encoding the whole set (the linear probes of every
        epoch) costs about what the bucketed training batches cost, not the padding of
        ``train_ids`` order (every batch near ``max_frames``). Its codes and labels come in this
        order: for measures that do not depend on it."""
        return make_dataset(self.train_examples, self.pipeline, training=False, by_length=True)


def data_order_seed(config: PipelineConfig, run_seed: int) -> int:
    """The shuffle seed of the training data of a run with seed ``run_seed``: ``shuffle_seed +
    run_seed``. Runs of one (fold, seed) see the same order of batches whatever their system
    (paired runs stay fair); another seed sees another order, so seeds vary the data order as
    well as initialization and dropout. Seed 0 keeps the order of ``shuffle_seed`` itself."""
    return config.shuffle_seed + run_seed


def prepare_fold(config: ExperimentConfig, utterances: list[Utterance],
                 features: dict[str, np.ndarray], fold: Fold) -> FoldData:
    """Vocabulary, word vectors, normalizer and datasets of ``fold``, fitted on its training ids.

    ``features`` maps utterance ids to raw ``(frames, feature_dim)`` arrays (from
    ``emokit.data.feature_cache.load_features``); ``utterances`` are the manifest rows. Under
    ``text.hub_preset`` the transcripts' codes come with them (:mod:`emokit.data.fold_text`).
    """
    from emokit.data.features import feature_layers
    from emokit.data.normalization import FeatureNormalizer

    by_id = {u.id: u for u in utterances}
    fold_ids = (*fold.train_ids, *fold.val_ids, *fold.test_ids)
    names = class_names_of(config.corpus.class_set)
    _check_inputs(fold, fold_ids, by_id, features, names)
    seen = fold_labels(fold, utterances, config, names)
    _check_unlabelled(fold, seen.train_ids[len(fold.train_ids) - seen.hidden:], features)
    fold_ids = (*seen.train_ids, *fold.val_ids, *fold.test_ids)
    tokens, vocab, embedding_matrix, coverage = fold_text(config, by_id, fold_ids,
                                                          seen.train_ids, features)
    normalizer = FeatureNormalizer.fit(
        {i: features[i] for i in fold_ids}, list(seen.train_ids),
        {i: by_id[i].speaker for i in fold_ids}, config.features.normalization)

    def examples(ids, labels):
        return pack_examples(
            [truncate_frames(normalizer.transform(i, features[i]), config.pipeline) for i in ids],
            [encode_tokens(tokens[i], vocab, config.pipeline) for i in ids], labels,
            config.pipeline)

    test_examples = examples(fold.test_ids, seen.test_labels)
    return FoldData(
        val=make_dataset(examples(fold.val_ids, seen.val_labels), config.pipeline,
                         training=False),
        test=make_dataset(test_examples, config.pipeline, training=False),
        vocab=vocab, embedding_matrix=embedding_matrix, normalizer=normalizer,
        feature_dim=int(features[fold.train_ids[0]].shape[1]), num_classes=len(names),
        class_names=names, train_ids=seen.train_ids, val_ids=fold.val_ids,
        test_ids=fold.test_ids, train_examples=examples(seen.train_ids, seen.train_labels),
        pipeline=config.pipeline, coverage=coverage, test_examples=test_examples,
        labels_seen=seen, feature_layers=feature_layers(config.features))


def _check_unlabelled(fold: Fold, ids, features) -> None:
    """The unlabelled training turns need features too (``load_corpus`` extracts them when
    ``train.unlabelled_pairs`` is on)."""
    missing = [i for i in ids if i not in features]
    if missing:
        raise KeyError(f"fold {fold.name}: no features for {len(missing)} unlabelled training "
                       f"turn(s), e.g. {missing[:3]}; load the corpus with train.unlabelled_pairs "
                       "on (emokit.experiment.load_corpus extracts the turns outside the class "
                       "set then)")


def _check_inputs(fold: Fold, fold_ids, by_id, features, names: list[str]) -> None:
    """Clear errors for ids without rows or features, empty or mismatched features, bad labels."""
    if not fold.train_ids:
        raise ValueError(f"fold {fold.name} has no training utterances")
    fix_features = ("build the feature cache for this manifest (data_prep.features.build_cache) "
                    "and load every fold id")
    for what, table, fix in (("manifest rows", by_id, "pass the manifest the folds came from"),
                             ("features", features, fix_features)):
        missing = [i for i in fold_ids if i not in table]
        if missing:
            raise KeyError(f"fold {fold.name}: no {what} for {len(missing)} utterance(s), e.g. "
                           f"{missing[:3]}; {fix}")
    empty = [i for i in fold_ids if len(features[i]) == 0]
    if empty:
        raise ValueError(f"fold {fold.name}: {len(empty)} utterance(s) have 0 feature frames, "
                         f"e.g. {empty[:3]}; rebuild their features")
    shapes = {np.shape(features[i])[1:] for i in fold_ids}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise ValueError(f"fold {fold.name}: features must be (frames, dims) with one dims, got "
                         f"trailing shapes {sorted(shapes)}; load them from one feature cache")
    outside = [f"{i} ({by_id[i].label!r})" for i in fold_ids if by_id[i].label not in names]
    if outside:
        raise ValueError(f"fold {fold.name}: {len(outside)} label(s) outside the class set "
                         f"{names}, e.g. {outside[:3]}; build the manifest and the folds with "
                         "the config's corpus.class_set")


def truncate_frames(audio: np.ndarray, config: PipelineConfig) -> np.ndarray:
    """The first ``max_frames`` frames of ``(frames, feature_dim)`` audio, as float32."""
    return np.asarray(audio[: config.max_frames], dtype=np.float32)


def encode_tokens(tokens: list[str], vocab: Vocabulary, config: PipelineConfig) -> np.ndarray:
    """Word ids of the first ``max_words`` tokens, ``(words,)`` int32; no words -> ``[UNK]``."""
    ids = vocab.encode(tokens[: config.max_words]) or [vocab.UNK]
    return np.array(ids, dtype=np.int32)


def padded_frames(longest: int, config: PipelineConfig) -> int:
    """Frames a batch is padded to: ``longest`` rounded up to ``bucket_width``, at most
    ``max_frames``."""
    return min(-(-longest // config.bucket_width) * config.bucket_width, config.max_frames)


def pad_batch(audio: list[np.ndarray], tokens: list[np.ndarray], labels: np.ndarray,
              config: PipelineConfig) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Zero-pad one batch of utterances into the input dict (shapes in the module docstring).

    Utterances longer than ``max_frames`` / ``max_words`` keep their first frames / words.
    """
    audio = [a[: config.max_frames] for a in audio]
    tokens = [t[: config.max_words] for t in tokens]
    frames = padded_frames(max(len(a) for a in audio), config)
    batch = {"audio": np.zeros((len(audio), frames, audio[0].shape[1]), np.float32),
             "audio_mask": np.zeros((len(audio), frames), bool),
             "tokens": np.zeros((len(audio), config.max_words), np.int32),
             "text_mask": np.zeros((len(audio), config.max_words), bool)}
    for row, (a, t) in enumerate(zip(audio, tokens)):
        batch["audio"][row, : len(a)] = a
        batch["audio_mask"][row, : len(a)] = True
        batch["tokens"][row, : len(t)] = t
        batch["text_mask"][row, : len(t)] = True
    return batch, np.asarray(labels, np.int32)


def pad_once(audio: list[np.ndarray], tokens: list[np.ndarray],
             config: PipelineConfig) -> PaddedBlocks:
    """Every utterance zero-padded to its own padded length, one block per length (see
    :class:`PaddedBlocks`); the first ``max_frames`` frames and ``max_words`` words are kept."""
    lengths = np.array([min(len(a), config.max_frames) for a in audio], dtype=int)
    padded = np.array([padded_frames(n, config) for n in lengths], dtype=int)
    frames, block = np.unique(padded, return_inverse=True)
    row = np.zeros(len(audio), dtype=int)
    dim = audio[0].shape[1]
    blocks = []
    for k, length in enumerate(frames):
        members = np.flatnonzero(block == k)
        row[members] = np.arange(len(members))
        padded_audio = np.zeros((len(members), length, dim), np.float32)
        for r, i in enumerate(members):
            padded_audio[r, : lengths[i]] = audio[i][: lengths[i]]
        blocks.append(padded_audio)
    words = np.array([min(len(t), config.max_words) for t in tokens], dtype=int)
    token_rows = np.zeros((len(tokens), config.max_words), np.int32)
    for i, (t, n) in enumerate(zip(tokens, words)):
        token_rows[i, :n] = t[:n]
    return PaddedBlocks(blocks, frames, block.ravel(), row, lengths, token_rows, words,
                        _pad_key(config))


def _pad_key(config: PipelineConfig) -> tuple[int, int, int]:
    return (config.max_frames, config.bucket_width, config.max_words)


def pack_examples(audio: list[np.ndarray], tokens: list[np.ndarray], labels: np.ndarray,
                  config: PipelineConfig) -> Examples:
    """:class:`Examples` padded once for ``config``, their ``audio`` views into the blocks
    (the unpadded arrays are not kept)."""
    blocks = pad_once(audio, tokens, config)
    views = [blocks.audio[b][r, :n] for b, r, n in zip(blocks.block, blocks.row, blocks.lengths)]
    return Examples(views, tokens, np.asarray(labels, np.int32), blocks)


def gather_batch(blocks: PaddedBlocks, indices: np.ndarray,
                 labels: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The batch of utterances ``indices`` cut from ``blocks``: the same arrays as
    :func:`pad_batch` (frames padded to the longest, rounded up to ``bucket_width``)."""
    indices = np.asarray(indices, dtype=int)
    block_ids = blocks.block[indices]
    frames = int(blocks.frames[block_ids].max())
    first = block_ids[0]
    if (block_ids == first).all():  # a bucketed batch: one gather
        audio = blocks.audio[first][blocks.row[indices]]
    else:
        audio = np.zeros((len(indices), frames, blocks.audio[0].shape[2]), np.float32)
        for k in np.unique(block_ids):
            rows = block_ids == k
            audio[rows, : blocks.frames[k]] = blocks.audio[k][blocks.row[indices[rows]]]
    max_words = blocks.tokens.shape[1]
    return ({"audio": audio,
             "audio_mask": np.arange(frames) < blocks.lengths[indices, None],
             "tokens": blocks.tokens[indices],
             "text_mask": np.arange(max_words) < blocks.words[indices, None]},
            np.asarray(labels, np.int32))


def train_batch_plan(lengths: np.ndarray, config: PipelineConfig, epoch: int) -> list[np.ndarray]:
    """Index arrays of one training epoch's batches (see "Training order" above)."""
    rng = np.random.default_rng([config.shuffle_seed, epoch])
    size = config.batch_size
    if not config.bucket_by_length:
        return _chunks(rng.permutation(len(lengths)), size)
    buckets = np.array([padded_frames(n, config) for n in lengths])
    batches, leftover = [], []
    for bucket in np.unique(buckets):
        members = rng.permutation(np.flatnonzero(buckets == bucket))
        full = len(members) - len(members) % size
        batches += _chunks(members[:full], size)
        leftover += members[full:].tolist()
    batches += _chunks(np.array(sorted(leftover, key=lambda i: lengths[i]), dtype=int), size)
    return [batches[i] for i in rng.permutation(len(batches))]


def _chunks(indices: np.ndarray, size: int) -> list[np.ndarray]:
    return [indices[start: start + size] for start in range(0, len(indices), size)]


def make_dataset(examples: Examples, config: PipelineConfig, training: bool,
                 by_length: bool = False):
    """A ``tf.data.Dataset`` of padded batches of ``examples``.

    ``training``: bucketed (if ``config.bucket_by_length``) and reshuffled each epoch; otherwise
    the examples' order, unshuffled, or with ``by_length`` shortest first (ties in order). A
    training epoch's order is drawn when its pass yields its first batch (an iterator that never
    yields does not count): to resume after ``k`` epochs, take one batch from each of ``k``
    passes, ``for _ in range(k): next(iter(dataset))``.
    """
    import tensorflow as tf

    if not examples.audio:
        raise ValueError("no examples to batch (an empty split?)")
    lengths = np.array([len(a) for a in examples.audio])
    epochs = itertools.count()
    blocks = examples.blocks
    if blocks is None or blocks.key != _pad_key(config):
        blocks = pad_once(examples.audio, examples.tokens, config)  # once per dataset

    def batches():
        for idx in epoch_batches(lengths, config, training, next(epochs), by_length):
            yield gather_batch(blocks, idx, examples.labels[idx])

    dim = examples.audio[0].shape[1]
    signature = ({"audio": tf.TensorSpec((None, None, dim), tf.float32),
                  "audio_mask": tf.TensorSpec((None, None), tf.bool),
                  "tokens": tf.TensorSpec((None, config.max_words), tf.int32),
                  "text_mask": tf.TensorSpec((None, config.max_words), tf.bool)},
                 tf.TensorSpec((None,), tf.int32))
    count = len(epoch_batches(lengths, config, training, 0, by_length))  # the same every epoch
    dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(count)).prefetch(tf.data.AUTOTUNE)


def epoch_batches(lengths: np.ndarray, config: PipelineConfig, training: bool,
                  epoch: int = 0, by_length: bool = False) -> list[np.ndarray]:
    """Index arrays of one epoch's batches: shuffled and bucketed for training, else in order
    (``by_length``: in order of length, shortest first)."""
    if training:
        return train_batch_plan(lengths, config, epoch)
    order = np.argsort(lengths, kind="stable") if by_length else np.arange(len(lengths))
    return _chunks(order, config.batch_size)
