"""Padded, masked, bucketed tf.data batches, and a fold prepared without test-fold leakage."""

import dataclasses

import numpy as np
import pytest

from emokit.config import ExperimentConfig, PipelineConfig
from emokit.data.folds import make_folds
from emokit.data.manifest import Utterance
from emokit.data.pipeline import (
    Examples,
    epoch_batches,
    make_dataset,
    pad_batch,
    prepare_fold,
    train_batch_plan,
)

DIM = 5


def examples(n=100, seed=0, min_frames=20, max_frames=400, max_words=12):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_frames, max_frames, size=n)
    words = rng.integers(1, max_words, size=n)
    return Examples(audio=[rng.normal(size=(k, DIM)).astype(np.float32) for k in lengths],
                    tokens=[rng.integers(1, 30, size=w).astype(np.int32) for w in words],
                    labels=rng.integers(0, 4, size=n).astype(np.int32))


def batches(dataset):
    return [({k: v.numpy() for k, v in x.items()}, y.numpy()) for x, y in dataset]


def test_batches_have_the_contract_shapes_dtypes_and_masks():
    data = examples(70)
    config = PipelineConfig(batch_size=16, max_frames=300, max_words=10, bucket_width=50)
    seen = 0
    for x, y in batches(make_dataset(data, config, training=False)):
        n = len(y)
        assert x["audio"].dtype == np.float32 and x["audio"].shape[::2] == (n, DIM)
        assert x["audio_mask"].dtype == bool and x["audio_mask"].shape == x["audio"].shape[:2]
        assert x["tokens"].dtype == np.int32 and x["tokens"].shape == (n, 10)
        assert x["text_mask"].dtype == bool and x["text_mask"].shape == (n, 10)
        assert y.dtype == np.int32
        frames = x["audio"].shape[1]
        assert frames % 50 == 0 or frames == 300
        for row in range(n):
            i = seen + row
            kept = min(len(data.audio[i]), 300)  # truncation keeps the first frames
            assert x["audio_mask"][row].sum() == kept and x["audio_mask"][row, :kept].all()
            np.testing.assert_array_equal(x["audio"][row, :kept], data.audio[i][:kept])
            assert not x["audio"][row, kept:].any()
            words = min(len(data.tokens[i]), 10)
            np.testing.assert_array_equal(x["tokens"][row, :words], data.tokens[i][:words])
            assert x["text_mask"][row].sum() == words and not x["tokens"][row, words:].any()
            assert y[row] == data.labels[i]
        seen += n
    assert seen == 70


def test_dataset_keeps_the_first_max_frames_and_max_words():
    data = examples(6, min_frames=500, max_frames=600, max_words=40)
    config = PipelineConfig(batch_size=6, max_frames=350, max_words=20, bucket_width=100)
    [(x, _)] = batches(make_dataset(data, config, training=False))
    assert x["audio"].shape[1] == 350  # capped at max_frames, not rounded up to 400
    assert x["audio_mask"].all()
    for row in range(6):
        np.testing.assert_array_equal(x["audio"][row], data.audio[row][:350])
        words = min(len(data.tokens[row]), 20)
        np.testing.assert_array_equal(x["tokens"][row, :words], data.tokens[row][:words])


def test_every_epoch_covers_the_training_set_once_and_reshuffles():
    data = examples(100)
    config = PipelineConfig(batch_size=8, bucket_width=100)
    dataset = make_dataset(data, config, training=True)
    epochs = [batches(dataset) for _ in range(2)]
    for epoch in epochs:
        labels = np.concatenate([y for _, y in epoch])
        assert sorted(labels) == sorted(data.labels)
        firsts = np.concatenate([x["audio"][:, 0, 0] for x, _ in epoch])  # a unique id per example
        assert sorted(firsts) == sorted(a[0, 0] for a in data.audio)
        assert sum(len(y) < 8 for _, y in epoch) <= 1  # one partial batch at most
        assert len(epoch) == int(dataset.cardinality())
    order = [np.concatenate([x["audio"][:, 0, 0] for x, _ in e]) for e in epochs]
    assert not np.array_equal(order[0], order[1])


def test_shuffling_is_deterministic_for_a_seed():
    data = examples(100)

    def two_epochs(seed):
        dataset = make_dataset(data, PipelineConfig(batch_size=8, shuffle_seed=seed), True)
        return [np.concatenate([x["tokens"].ravel() for x, _ in batches(dataset)])
                for _ in range(2)]

    first, again, other = two_epochs(0), two_epochs(0), two_epochs(1)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def padding_fraction(dataset):
    masks = [x["audio_mask"] for x, _ in batches(dataset)]
    return 1 - sum(m.sum() for m in masks) / sum(m.size for m in masks)


def test_bucketing_limits_padding_and_shapes():
    data = examples(300, min_frames=50, max_frames=750)
    bucketed = PipelineConfig(batch_size=16, bucket_width=50, bucket_by_length=True)
    plain = dataclasses.replace(bucketed, bucket_by_length=False)
    with_buckets = padding_fraction(make_dataset(data, bucketed, True))
    without = padding_fraction(make_dataset(data, plain, True))
    assert without > 0.3 and with_buckets < without / 2
    shapes = {x["audio"].shape[1] for x, _ in batches(make_dataset(data, bucketed, True))}
    assert shapes <= set(range(50, 751, 50))


def test_batch_plan_groups_lengths_of_one_bucket():
    lengths = np.array([10, 210, 20, 220, 30, 230, 40, 240])
    plan = train_batch_plan(lengths, PipelineConfig(batch_size=2, bucket_width=100), epoch=0)
    assert sorted(len(b) for b in plan) == [2, 2, 2, 2]
    for batch in plan:
        assert len({(lengths[i] - 1) // 100 for i in batch}) == 1


# --- prepare_fold: everything fitted on the training fold only -------------------------------

WORDS = ["happy", "sad", "angry", "calm", "today", "really", "feel", "so"]


def corpus(test_word="zebra"):
    rng = np.random.default_rng(0)
    rows = []
    for session in range(1, 6):
        for gender in "FM":
            for n in range(6):
                uid = f"Ses0{session}F_impro01_{gender}{n:03d}"
                words = list(rng.choice(WORDS, size=4))
                if session == 1:  # the test session of fold 1
                    words.append(test_word)
                if n == 5:
                    words = ["[LAUGHTER]"]
                rows.append(Utterance(
                    id=uid, session=session, dialog=uid.rsplit("_", 1)[0],
                    speaker=f"Ses0{session}{gender}", gender=gender, mode="impro", raw_label="neu",
                    label=["neutral", "happy", "angry", "sad"][n % 4], start=0.0, end=1.0,
                    valence=3.0, arousal=3.0, dominance=3.0, transcript=" ".join(words),
                    wav="x.wav", duration=1.0, sample_rate=16000))
    features = {u.id: rng.normal(u.session, 1.0, size=(30 + 7 * i, DIM)).astype(np.float32)
                for i, u in enumerate(rows)}
    return rows, features


def small_config(normalization="global"):
    config = ExperimentConfig()
    config.text.vector_dim, config.text.trainer_epochs = 8, 2
    config.pipeline.batch_size = 8
    config.features.normalization = normalization
    return config


def all_batches(fold_data):
    return {name: batches(getattr(fold_data, name)) for name in ("train", "val", "test")}


def test_prepare_fold_gives_the_contract():
    rows, features = corpus()
    fold = make_folds(rows, "session")[0]
    data = prepare_fold(small_config(), rows, features, fold)
    assert data.feature_dim == DIM and data.num_classes == 4
    assert data.class_names == ["neutral", "happy", "angry", "sad"]
    assert data.embedding_matrix.shape == (len(data.vocab), 8)
    assert data.test_ids == fold.test_ids
    test = batches(data.test)
    labels = np.concatenate([y for _, y in test])
    expected = [data.class_names.index(next(u for u in rows if u.id == i).label)
                for i in fold.test_ids]
    np.testing.assert_array_equal(labels, expected)  # test order = test_ids
    first = test[0][0]
    np.testing.assert_array_equal(first["audio_mask"].sum(1),
                                  [len(features[i]) for i in fold.test_ids[:8]])
    laughter_only = fold.test_ids.index("Ses01F_impro01_F005")
    assert test[0][0]["tokens"][laughter_only].tolist()[:2] == [1, 0]  # no words -> one <unk>


@pytest.mark.parametrize("normalization", ["global", "speaker"])
def test_nothing_is_learned_from_the_test_fold(normalization):
    rows, features = corpus(test_word="zebra")
    fold = make_folds(rows, "session")[0]
    data = prepare_fold(small_config(normalization), rows, features, fold)
    assert "zebra" not in data.vocab
    test_tokens = np.concatenate([x["tokens"] for x, _ in batches(data.test)])  # test_ids order
    worded = [k for k, i in enumerate(fold.test_ids) if not i.endswith("005")]  # not [LAUGHTER]
    assert (test_tokens[worded, 4] == 1).all()  # the 5th word, zebra, is <unk> in the test fold

    # Other test transcripts and other test audio change nothing fitted on the training fold.
    changed_rows, _ = corpus(test_word="giraffe")
    changed_features = {i: (a * 3 + 7 if i in fold.test_ids else a) for i, a in features.items()}
    changed = prepare_fold(small_config(normalization), changed_rows, changed_features, fold)
    assert changed.vocab.words == data.vocab.words
    np.testing.assert_array_equal(changed.embedding_matrix, data.embedding_matrix)
    before, after = all_batches(data), all_batches(changed)
    for split in ("train", "val"):
        for (x0, y0), (x1, y1) in zip(before[split], after[split], strict=True):
            for key in x0:
                np.testing.assert_array_equal(x0[key], x1[key])
            np.testing.assert_array_equal(y0, y1)


def test_missing_features_are_named():
    rows, features = corpus()
    fold = make_folds(rows, "session")[0]
    del features[fold.test_ids[0]]
    with pytest.raises(KeyError, match=f"no features for 1 utterance.*{fold.test_ids[0]}"):
        prepare_fold(small_config(), rows, features, fold)


def test_mismatched_features_and_labels_are_refused():
    rows, features = corpus()
    fold = make_folds(rows, "session")[0]
    bad = dict(features, **{fold.train_ids[0]: np.zeros((10, DIM + 1), np.float32)})
    with pytest.raises(ValueError, match="one dims"):
        prepare_fold(small_config(), rows, bad, fold)
    relabelled = [dataclasses.replace(u, label="frustrated") if u.id == fold.test_ids[0] else u
                  for u in rows]  # a 5-class manifest read with the 4-class config
    with pytest.raises(ValueError, match=f"outside the class set.*{fold.test_ids[0]}"):
        prepare_fold(small_config(), relabelled, features, fold)


def first_tokens(dataset):
    return np.concatenate([x["tokens"][:, 0] for x, _ in batches(dataset)])


def test_each_read_of_train_starts_at_epoch_zero_and_resuming_replays_epochs():
    rows, features = corpus()
    data = prepare_fold(small_config(), rows, features, make_folds(rows, "session")[0])
    uninterrupted = data.train
    epochs = [first_tokens(uninterrupted) for _ in range(3)]
    assert not np.array_equal(epochs[1], epochs[2])
    np.testing.assert_array_equal(first_tokens(data.train), epochs[0])  # a fresh dataset
    resumed = data.train
    for _ in range(2):  # skip the two finished epochs
        next(iter(resumed))
    np.testing.assert_array_equal(first_tokens(resumed), epochs[2])
    assert not np.array_equal(first_tokens(data.train_dataset(shuffle_seed=5)), epochs[0])


@pytest.mark.parametrize("training", [True, False])
def test_batches_gathered_from_padded_blocks_are_those_padded_per_batch(training):
    # the batches (and their order) of every epoch are exactly what padding each batch on its own
    # gave before padding moved to once per fold: same seed, same numbers
    data = examples(90, min_frames=20, max_frames=420)
    data.tokens[3] = np.zeros(0, np.int32)  # a transcript without words
    config = PipelineConfig(batch_size=8, max_frames=300, max_words=10, bucket_width=50,
                            shuffle_seed=3)
    dataset = make_dataset(data, config, training)
    lengths = np.array([len(a) for a in data.audio])
    for epoch in range(2):
        plan = epoch_batches(lengths, config, training, epoch)
        got = batches(dataset)
        assert len(got) == len(plan)
        for (x, y), idx in zip(got, plan):
            want, want_y = pad_batch([data.audio[i] for i in idx], [data.tokens[i] for i in idx],
                                     data.labels[idx], config)
            np.testing.assert_array_equal(y, want_y)
            for key, value in want.items():
                assert x[key].dtype == value.dtype
                np.testing.assert_array_equal(x[key], value)


def test_prepared_examples_are_views_into_blocks_padded_once():
    rows, features = corpus()
    config = small_config()
    data = prepare_fold(config, rows, features, make_folds(rows, "session")[0])
    blocks = data.train_examples.blocks
    assert blocks is not None and all(b.shape[1] % config.pipeline.bucket_width == 0
                                      or b.shape[1] == config.pipeline.max_frames
                                      for b in blocks.audio)
    first = data.train_examples.audio[0]
    assert np.shares_memory(first, blocks.audio[blocks.block[0]])
    assert len(first) == blocks.lengths[0]


def test_the_training_order_of_a_seed_stays_that_of_earlier_versions():
    # results of a seed are comparable across versions only if its batches come in the same
    # order: these are the batches the planner drew before padding moved to once per fold
    lengths = np.array([10, 210, 20, 220, 30, 230, 40, 240, 250, 50, 120])
    config = PipelineConfig(batch_size=2, bucket_width=100, shuffle_seed=7)
    plans = [[b.tolist() for b in train_batch_plan(lengths, config, epoch)] for epoch in (0, 1)]
    assert plans == [[[6, 10], [1, 3], [8, 7], [4, 0], [9, 2], [5]],
                     [[1, 3], [9, 10], [4, 2], [5, 8], [7], [6, 0]]]


def test_train_by_length_yields_every_training_utterance_once_shortest_first():
    rows, features = corpus()
    data = prepare_fold(small_config(), rows, features, make_folds(rows, "session")[0])
    lengths = np.concatenate([x["audio_mask"].sum(1) for x, _ in batches(data.train_by_length)])
    assert np.all(np.diff(lengths) >= 0)
    assert sorted(lengths) == sorted(len(a) for a in data.train_examples.audio)
