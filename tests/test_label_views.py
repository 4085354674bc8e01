"""What training may see of the labels: label noise, hidden labels and unlabelled turns for the
pair loss; the classification loss skips unlabelled turns, the pair loss uses them, and no
validation or test turn ever enters training."""

import dataclasses

import numpy as np
import pytest

from emokit.config import ExperimentConfig, ModelConfig
from emokit.data.folds import make_folds
from emokit.data.label_views import UNLABELLED, fold_labels, label_hidden, noisy_label
from emokit.data.manifest import Utterance
from emokit.data.pipeline import prepare_fold

DIM = 5
CLASSES = ["neutral", "happy", "angry", "sad"]


def corpus(per_speaker=40, outside_per_speaker=3):
    """10 speakers over 5 sessions; ``outside_per_speaker`` turns each outside the class set."""
    rng = np.random.default_rng(0)
    rows = []
    for session in range(1, 6):
        for gender in "FM":
            for n in range(per_speaker + outside_per_speaker):
                uid = f"Ses0{session}F_impro01_{gender}{n:03d}"
                outside = n >= per_speaker
                rows.append(Utterance(
                    id=uid, session=session, dialog=uid.rsplit("_", 1)[0],
                    speaker=f"Ses0{session}{gender}", gender=gender, mode="impro",
                    raw_label="fru" if outside else "neu",
                    label="" if outside else CLASSES[n % 4], start=0.0, end=1.0,
                    valence=3.0, arousal=3.0, dominance=3.0, transcript=f"word{n} hello",
                    wav="x.wav", duration=1.0, sample_rate=16000))
    features = {u.id: rng.normal(size=(20 + n % 7, DIM)).astype(np.float32)
                for n, u in enumerate(rows)}
    return rows, features


def config(noise=0.0, fraction=1.0, unlabelled=False):
    cfg = ExperimentConfig()
    cfg.corpus.train_label_noise, cfg.corpus.labelled_fraction = noise, fraction
    cfg.train.unlabelled_pairs = unlabelled
    cfg.model.pairing = "instance"
    cfg.text.vector_dim, cfg.text.trainer_epochs = 8, 1
    cfg.pipeline.batch_size = 16
    return cfg


def truth(rows, ids):
    label = {u.id: u.label for u in rows}
    return np.array([CLASSES.index(label[i]) for i in ids])


def test_defaults_show_every_label_unchanged_and_no_unlabelled_turn():
    rows, _ = corpus()
    fold = make_folds(rows)[0]
    seen = fold_labels(fold, rows, config(), CLASSES)
    assert seen.train_ids == fold.train_ids
    np.testing.assert_array_equal(seen.train_labels, truth(rows, fold.train_ids))
    np.testing.assert_array_equal(seen.val_labels, truth(rows, fold.val_ids))
    assert (seen.flipped, seen.hidden, seen.outside_class_set) == (0, 0, 0)


def test_label_noise_flips_its_share_outside_the_test_fold_only_and_the_same_turns_every_fold():
    rows, _ = corpus(per_speaker=200)
    flips = {}
    for fold in make_folds(rows):
        seen = fold_labels(fold, rows, config(noise=0.3), CLASSES)
        np.testing.assert_array_equal(seen.test_labels, truth(rows, fold.test_ids))  # clean
        for ids, labels in ((seen.train_ids, seen.train_labels), (fold.val_ids, seen.val_labels)):
            for i, shown, true in zip(ids, labels, truth(rows, ids), strict=True):
                assert flips.setdefault(i, shown) == shown  # one decision per turn, every fold
                flips[i] = shown
    changed = np.mean([flips[u.id] != CLASSES.index(u.label) for u in rows if u.label])
    assert 0.26 < changed < 0.34  # 2000 turns: 0.3 +- 3 standard errors
    flipped = [noisy_label(f"u{k}", 2, 4, 1.0, 0) for k in range(400)]
    assert 2 not in flipped and set(flipped) == {0, 1, 3}  # always another class, each of them


def test_hidden_labels_are_left_out_or_given_to_the_pair_loss_as_unlabelled():
    rows, _ = corpus(per_speaker=100)
    fold = make_folds(rows)[0]
    dropped = fold_labels(fold, rows, config(fraction=0.2), CLASSES)
    kept = fold_labels(fold, rows, config(fraction=0.2, unlabelled=True), CLASSES)
    share = len(dropped.train_ids) / len(fold.train_ids)
    assert 0.15 < share < 0.25 and UNLABELLED not in dropped.train_labels
    assert dropped.hidden == len(fold.train_ids) - len(dropped.train_ids)
    # with unlabelled pairs: the same labelled turns, then hidden and outside-class-set ones at -1
    n = len(dropped.train_ids)
    assert kept.train_ids[:n] == dropped.train_ids
    assert (kept.train_labels[n:] == UNLABELLED).all() and (kept.train_labels[:n] >= 0).all()
    assert kept.outside_class_set == 3 * 7  # 3 per training speaker, 7 training speakers
    assert len(kept.train_ids) == len(fold.train_ids) + kept.outside_class_set
    held_out = {u.id for u in rows if u.speaker in (*fold.val_speakers, *fold.test_speakers)}
    assert not held_out & set(kept.train_ids)  # no validation or test turn, labelled or not
    assert np.mean([label_hidden(f"u{k}", 0.2, 3) for k in range(4000)]) == pytest.approx(0.8,
                                                                                         abs=0.03)


def test_prepared_fold_batches_unlabelled_turns_for_the_pair_loss_only():
    rows, features = corpus()
    fold = make_folds(rows)[0]
    data = prepare_fold(config(fraction=0.5, unlabelled=True), rows, features, fold)
    labels = np.concatenate([y for _, y in data.train_dataset(0)])
    assert (labels == UNLABELLED).sum() == data.labels_seen.hidden + 21
    assert sorted(labels[labels >= 0]) == sorted(data.labels_seen.train_labels[
        data.labels_seen.train_labels >= 0])
    assert all(np.min(y) >= 0 for _, y in data.val) and all(np.min(y) >= 0 for _, y in data.test)
    without = {k: v for k, v in features.items()
               if not (k.endswith("040") and k.startswith("Ses02"))}
    with pytest.raises(KeyError, match="unlabelled training turn.*unlabelled_pairs"):
        prepare_fold(config(unlabelled=True), rows, without, fold)


def test_classification_loss_skips_unlabelled_examples_and_is_the_plain_mean_otherwise():
    import keras
    import tensorflow as tf

    from emokit.model.losses import classification_loss

    logits = tf.constant(np.random.default_rng(0).normal(size=(6, 4)), tf.float32)
    labels = tf.constant([0, 3, -1, 2, -1, 1])
    plain = keras.ops.sparse_categorical_crossentropy(labels.numpy()[[0, 1, 3, 5]],
                                                      tf.gather(logits, [0, 1, 3, 5]),
                                                      from_logits=True)
    assert float(classification_loss(labels, logits)) == pytest.approx(float(np.mean(plain)),
                                                                       rel=1e-6)
    full = tf.constant([0, 3, 1, 2, 2, 1])
    every = keras.ops.sparse_categorical_crossentropy(full, logits, from_logits=True)
    assert float(classification_loss(full, logits)) == float(keras.ops.mean(every))  # exactly
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = classification_loss(labels, logits)
    gradient = tape.gradient(loss, logits).numpy()
    assert not gradient[[2, 4]].any() and gradient[[0, 1, 3, 5]].any()
    assert float(classification_loss(tf.constant([-1, -1]), logits[:2])) == 0.0


def test_the_pair_loss_learns_from_unlabelled_examples_and_ce_does_not():
    import tensorflow as tf

    from emokit.model.emotion_model import build_model

    model = build_model(dataclasses.replace(ModelConfig(), latent_dim=8, audio_conv_filters=4,
                                            audio_rnn_units=4, text_rnn_units=4,
                                            pairing="instance", contrastive_weight=1.0),
                        feature_dim=DIM, vocab_size=20, num_classes=4)
    rng = np.random.default_rng(1)
    inputs = {"audio": tf.constant(rng.normal(size=(4, 16, DIM)), tf.float32),
              "audio_mask": tf.ones((4, 16), tf.bool),
              "tokens": tf.constant(rng.integers(2, 20, (4, 5)), tf.int32),
              "text_mask": tf.ones((4, 5), tf.bool)}
    labels = tf.constant([1, -1, -1, -1])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(inputs["audio"])
        out = model.compute_losses(inputs, labels, training=False)
    ce = tape.gradient(out["ce"], inputs["audio"]).numpy()
    pair = tape.gradient(out["disc_loss"], inputs["audio"]).numpy()
    assert not ce[1:].any() and ce[0].any()  # CE: the labelled turn only
    assert all(pair[k].any() for k in range(4))  # the pair loss: every turn
