"""Every course exercise tells right from wrong: for each, a foreseen wrong answer is rejected
with its hint (which never holds the answer) and an alternative right form is accepted.

The checkers (``emokit.course.exercises.notebookNN``) are called directly on small constructed objects,
so no notebook runs here."""

import types

import numpy as np
import pytest

from emokit.course import checking, exercises
from emokit.course.checking import RIGHT, UNANSWERED, WRONG
from emokit.data.manifest import Utterance

SPEAKERS = [f"Ses0{s}{g}" for s in range(1, 6) for g in "FM"]


def _statuses_and_out(capsys, function, *args, **kwargs):
    statuses = function(*args, **kwargs)
    return statuses, capsys.readouterr().out


def _line(out, name):
    return next(line for line in out.splitlines() if f"exercise {name}:" in line)


def _own_hint(out, name, *answers):
    """Exercise ``name``'s line holds a hint of its own: not the generic one, none of
    ``answers`` (the right answer's printed forms)."""
    line = _line(out, name)
    assert "(" in line and "not this one" not in line, line
    assert not any(answer in line for answer in answers), line


# --- the generic check ---------------------------------------------------------------------------

def test_true_and_false_are_no_numbers_and_numbers_are_no_booleans(capsys):
    assert checking.check("1", False, 0.0) == WRONG
    assert checking.check("2", np.False_, 0) == WRONG
    assert checking.check("3", 0, False) == WRONG
    assert checking.check("4", np.True_, True) == RIGHT
    assert "expected a number, got bool" in _line(capsys.readouterr().out, "1")


def test_a_factor_hint_comes_only_where_the_exercise_names_that_factor(capsys):
    assert checking.check("1", 5, 10) == WRONG
    assert checking.check("2", 5, 10, factors=(2,)) == WRONG
    out = capsys.readouterr().out
    assert "factor" not in _line(out, "1") and "off by a factor of 2" in _line(out, "2")


# --- 00 getting started ----------------------------------------------------------------------------

def test_notebook00(capsys):
    statuses, out = _statuses_and_out(capsys, exercises.notebook00, "c", np.int64(64))
    assert statuses == {"1": RIGHT, "2": RIGHT}
    statuses, out = _statuses_and_out(capsys, exercises.notebook00, True, 16)
    assert statuses == {"1": WRONG, "2": WRONG}
    assert "you started from" in _line(out, "2") and "64" not in out
    assert "one letter" in _line(out, "1")


# --- 01 data ---------------------------------------------------------------------------------------

def _row(speaker, labelled=True, transcript="well okay"):
    return types.SimpleNamespace(speaker=speaker, transcript=transcript,
                                 label="neutral" if labelled else "")


@pytest.fixture
def corpus01():
    counts = {"Ses04M": 7, "Ses04F": 3, "Ses03M": 7, "Ses03F": 7}
    labelled = [_row(s, transcript="[LAUGHTER] yes" if i == 0 else "no")
                for s, n in counts.items() for i in range(n)]
    rows = labelled + [_row("Ses04M", False), _row("Ses01F", False, "[BREATHING] hm"),
                       _row("Ses01F", False)]
    truth = ([{"label": "sad", "text_emotion": "angry", "audio_emotion": "happy"}] * 2
             + [{"label": "sad", "text_emotion": "angry", "audio_emotion": "sad"}] * 3
             + [{"label": "sad", "text_emotion": "", "audio_emotion": "happy"}] * 4
             + [{"label": "sad", "text_emotion": "sad", "audio_emotion": "sad"}] * 5)
    return {"labelled": labelled, "rows": rows, "truth": truth}


def test_notebook01_right_answers_in_other_forms(corpus01, capsys):
    statuses, _ = _statuses_and_out(capsys, exercises.notebook01, np.int64(7), 5 / 27, 2.0,
                                    **corpus01)
    assert statuses == {"1": RIGHT, "2": RIGHT, "3": RIGHT}


@pytest.mark.parametrize(("answers", "name", "hint"), [
    ((10, ..., ...), "1", "both speakers of session 4"),
    ((3, ..., ...), "1", "that is Ses04F"),
    ((8, ..., ...), "1", "every parsed row"),
    ((..., 4 / 24, ...), "2", "4-class rows only"),
    ((..., 100 * 5 / 27, ...), "2", "between 0 and 1"),
    ((..., 5 / 2700, ...), "2", "off by a factor of 100"),
    ((..., ..., 5), "3", "the voice must point away too"),
    ((..., ..., 6), "3", "the words must point away too"),
    ((..., ..., 9), "3", "text *or* voice"),
])
def test_notebook01_foreseen_slips_get_their_hint(corpus01, answers, name, hint, capsys):
    statuses, out = _statuses_and_out(capsys, exercises.notebook01, *answers, **corpus01)
    assert statuses[name] == WRONG and hint in _line(out, name)
    _own_hint(out, name, " 7", "0.185", "18.5")


# --- 02 audio features -----------------------------------------------------------------------------

@pytest.fixture
def features02():
    from emokit.config import FeatureConfig

    rng = np.random.default_rng(0)
    offsets = {"Ses01F": 0.0, "Ses01M": 1.0, "Ses05F": 3.0, "Ses05M": -2.0}
    features, speakers = {}, {}
    for speaker, offset in offsets.items():
        for i in range(3):
            uid = f"{speaker}_{i}"
            features[uid] = (offset + rng.normal(size=(20 + i, 4))).astype("float32")
            speakers[uid] = speaker
    train_ids = [u for u in features if u.startswith("Ses01")]
    return {"features": features, "train_ids": train_ids, "speakers": speakers,
            "config": FeatureConfig()}


def _largest_mean(normalizer, features, ids):
    frames = np.concatenate([normalizer.transform(u, features[u]) for u in ids])
    return float(np.abs(frames.mean(axis=0)).max())


def test_notebook02_right_answers_in_other_forms(features02, capsys):
    from emokit.data.normalization import FeatureNormalizer

    f = features02["features"]
    test_ids = [u for u in f if u not in features02["train_ids"]]
    norm = FeatureNormalizer.fit(f, features02["train_ids"], features02["speakers"], "global")
    answer_3 = np.float32(_largest_mean(norm, f, test_ids))  # float32 arithmetic is close enough
    statuses, out = _statuses_and_out(capsys, exercises.notebook02, np.int64(321), 63, answer_3,
                                      **features02)
    assert statuses == {"1": RIGHT, "2": RIGHT, "3": RIGHT}, out


@pytest.mark.parametrize(("answers", "name", "hint"), [
    ((320, ..., ...), "1", "starts at sample 0"),
    ((318, ..., ...), "1", "uncentred framing"),
    ((..., 60, ...), "2", "prosody dims"),
    ((..., ..., 0.0), "3", "training frames"),
    ((..., ..., "all"), "3", "fit the normalizer on `train_ids` only"),
    ((..., ..., "raw"), "3", "raw frames"),
    ((..., ..., "speaker"), "3", "speaker normalizer"),
])
def test_notebook02_foreseen_slips_get_their_hint(features02, answers, name, hint, capsys):
    from emokit.data.normalization import FeatureNormalizer

    f, speakers = features02["features"], features02["speakers"]
    test_ids = [u for u in f if u not in features02["train_ids"]]
    wrong = {"all": FeatureNormalizer.fit(f, list(f), speakers, "global"),
             "raw": FeatureNormalizer("none"),
             "speaker": FeatureNormalizer.fit(f, features02["train_ids"], speakers, "speaker")}
    answers = tuple(_largest_mean(wrong[a], f, test_ids) if a in wrong else a for a in answers)
    statuses, out = _statuses_and_out(capsys, exercises.notebook02, *answers, **features02)
    assert statuses[name] == WRONG and hint in _line(out, name), out
    _own_hint(out, name)


# --- 03 text features ------------------------------------------------------------------------------

@pytest.fixture
def text03():
    from emokit.data.folds import make_folds

    utterances = []
    for speaker in SPEAKERS:
        for i in range(2):
            uid = f"{speaker}_impro01_{speaker[-1]}{i:03d}"
            utterances.append(Utterance(
                id=uid, session=int(speaker[4]), dialog=uid.rsplit("_", 1)[0], speaker=speaker,
                gender=speaker[-1], mode="impro", raw_label="neu", label="neutral", start=0.0,
                end=1.0, valence=3.0, arousal=3.0, dominance=3.0, transcript="hi", wav="x.wav",
                duration=1.0, sample_rate=16000))
    fold = make_folds(utterances)[0]
    words = ["yes", "no", "maybe", "never"]
    tokens = {u.id: [words[i % 4], words[(i * 3) % 4], f"rare{i}"] for i, u in
              enumerate(utterances)}
    tokens[fold.train_ids[0]].append("seldom")  # seen once in training: OOV at min_count=2
    for uid in fold.test_ids:
        tokens[uid].append("seldom")
    return {"utterances": utterances, "tokens": tokens, "fold": fold}


def test_notebook03_right_answers_in_other_forms(text03, capsys):
    from emokit.data.text import Vocabulary, oov_rate

    fold, tokens = text03["fold"], text03["tokens"]
    rate = oov_rate([tokens[i] for i in fold.test_ids],
                    Vocabulary.build([tokens[i] for i in fold.train_ids], 2))
    from emokit.data.text import tokenize

    statuses, out = _statuses_and_out(
        capsys, exercises.notebook03, tokenize("[BREATHING] Well -- I'm NOT going, uh-huh."),
        ["Ses03F"], np.float64(rate), **text03)
    assert statuses == {"1": RIGHT, "2": RIGHT, "3": RIGHT}, out


@pytest.mark.parametrize(("answers", "name", "hint"), [
    ((["breathing", "well"], ..., ...), "1", "square brackets"),
    ((["Well", "NOT"], ..., ...), "1", "lowercased"),
    ((..., "Ses03F", ...), "2", "tuple of names"),
    ((..., ("Ses03M",), ...), "2", "tested, not validating"),
    ((..., ..., "min1"), "3", "min_count=1"),
])
def test_notebook03_foreseen_slips_get_their_hint(text03, answers, name, hint, capsys):
    from emokit.data.text import Vocabulary, oov_rate

    fold, tokens = text03["fold"], text03["tokens"]
    min1 = oov_rate([tokens[i] for i in fold.test_ids],
                    Vocabulary.build([tokens[i] for i in fold.train_ids], 1))
    answers = tuple(min1 if a == "min1" else a for a in answers)
    statuses, out = _statuses_and_out(capsys, exercises.notebook03, *answers, **text03)
    assert statuses[name] == WRONG and hint in _line(out, name), out
    _own_hint(out, name)


def test_notebook03_a_percentage_and_min_count_1s_printed_rate_get_their_hints(text03, capsys):
    from emokit.data.text import Vocabulary, oov_rate

    tokens, fold = text03["tokens"], text03["fold"]
    test = [tokens[i] for i in fold.test_ids]
    rate_1, rate_2 = (oov_rate(test, Vocabulary.build([tokens[i] for i in fold.train_ids], n))
                      for n in (1, 2))
    assert rate_1 != rate_2
    for answer, status, hint in [(rate_2, RIGHT, ""), (100 * rate_2, WRONG, "a percentage"),
                                 (round(100 * rate_2, 2), WRONG, "a percentage"),
                                 (rate_2 / 100, WRONG, "factor of 100"),
                                 (round(100 * rate_1, 2), WRONG, "min_count=1"),
                                 (round(rate_1, 4), WRONG, "min_count=1")]:
        statuses, out = _statuses_and_out(capsys, exercises.notebook03, ..., ..., answer, **text03)
        assert statuses["3"] == status and hint in _line(out, "3"), (answer, out)
        if status == WRONG:
            assert "not this one" not in out and f"{rate_2:.3f}" not in out, out


def test_notebook03_tokens_right_as_a_tuple(text03, capsys):
    from emokit.data.text import tokenize

    tokens = tuple(tokenize("[BREATHING] Well -- I'm NOT going, uh-huh."))
    statuses, _ = _statuses_and_out(capsys, exercises.notebook03, tokens, ..., ..., **text03)
    assert statuses["1"] == RIGHT


# --- 04 fusion baseline ----------------------------------------------------------------------------

CONFUSION = [[8, 2, 0, 0], [1, 3, 0, 0], [0, 0, 5, 5], [0, 2, 0, 4]]  # rows: true classes


@pytest.fixture
def fusion04():
    from emokit.config.presets import get_preset
    from emokit.model.layers import ConcatFusion

    config = get_preset("quick")
    vocab = [f"w{i}" for i in range(12)]
    data = types.SimpleNamespace(feature_dim=5, vocab=vocab, num_classes=4,
                                 embedding_matrix=np.ones((12, 6), "float32"))
    return {"baseline": types.SimpleNamespace(fusion=ConcatFusion()),
            "results": {"fused": {"confusion": CONFUSION}}, "data": data, "config": config}


def test_notebook04_right_answers_in_other_forms(fusion04, capsys):
    recalls = np.diag(CONFUSION) / np.sum(CONFUSION, axis=1)
    statuses, out = _statuses_and_out(capsys, exercises.notebook04, np.int64(48),
                                      np.float32(recalls.mean()), 12 * 6, **fusion04)
    assert statuses == {"1": RIGHT, "2": RIGHT, "3": RIGHT}, out


@pytest.mark.parametrize(("answers", "name", "hint"), [
    ((24, ..., ...), "1", "holds both codes"),
    (("preset", ..., ...), "1", "preset's latent_dim"),
    (("gru", ..., ...), "1", "GRU widths"),
    ((..., 20 / 30, ...), "2", "that is WA"),
    ((..., "columns", ...), "2", "divide by the row sums"),
    ((..., 5.0, ...), "2", "counts of right answers"),
    ((..., "sum", ...), "2", "sums the recalls"),
    ((..., ..., -72), "3", "subtract the other way"),
])
def test_notebook04_foreseen_slips_get_their_hint(fusion04, answers, name, hint, capsys):
    m = fusion04["config"].model
    confusion = np.array(CONFUSION, float)
    slips = {"preset": 2 * m.latent_dim, "gru": 24 + m.text_rnn_units,
             "columns": float(np.mean(np.diag(confusion) / confusion.sum(axis=0))),
             "sum": float(np.sum(np.diag(confusion) / confusion.sum(axis=1)))}
    answers = tuple(slips.get(a, a) if isinstance(a, str) else a for a in answers)
    statuses, out = _statuses_and_out(capsys, exercises.notebook04, *answers, **fusion04)
    assert statuses[name] == WRONG and hint in _line(out, name), out
    _own_hint(out, name, "48", "0.679", "0.68", "72")


def test_notebook04_a_ua_copied_as_printed_is_right_and_rounding_or_percent_get_hints(
        fusion04, capsys):
    ua = float(np.mean(np.diag(CONFUSION) / np.sum(CONFUSION, axis=1)))  # 0.67917
    for answer, status, hint in [(round(ua, 3), RIGHT, ""), (f"{ua:.3f}", WRONG, "a number"),
                                 (round(ua, 2), WRONG, "give it to 3 decimals as printed"),
                                 (round(100 * ua, 1), WRONG, "that is a percentage"),
                                 (100 * ua, WRONG, "that is a percentage"),
                                 (round(ua, 3) + 0.001, WRONG, "")]:
        statuses, out = _statuses_and_out(capsys, exercises.notebook04, ..., answer, ...,
                                          **fusion04)
        assert statuses["2"] == status and hint in _line(out, "2"), (answer, out)


def test_notebook04_count_params_counts_the_frozen_weights_too(fusion04, capsys):
    statuses, out = _statuses_and_out(capsys, exercises.notebook04, ..., ..., 0, **fusion04)
    assert statuses["3"] == WRONG and "frozen ones too" in _line(out, "3"), out


# --- 05 contrastive regularization -----------------------------------------------------------------

class LossModel:
    """What the checker reads from a regularized model: its weight and compute_losses."""

    contrastive_weight = 0.5

    def compute_losses(self, inputs, labels):
        import tensorflow as tf

        return {"loss": tf.constant(1.9), "ce": tf.constant(1.4), "pair_term": tf.constant(0.5),
                "disc_loss": tf.constant(1.0), "logits": tf.zeros((2, 4))}


def _check05(capsys, *answers):
    return _statuses_and_out(capsys, exercises.notebook05, *answers, model=LossModel(),
                             inputs=None, labels=None)


def test_notebook05_right_answers_in_other_forms(capsys):
    import tensorflow as tf

    statuses, out = _check05(capsys, tf.eye(3), np.int64(10), tf.constant(1.9) - tf.constant(1.4))
    assert statuses == {"1": RIGHT, "2": RIGHT, "3": RIGHT}, out
    statuses, _ = _check05(capsys, np.eye(3, dtype=bool), 10.0, 0.5)
    assert statuses == {"1": RIGHT, "2": RIGHT, "3": RIGHT}


@pytest.mark.parametrize(("answers", "name", "hint"), [
    ((np.ones((3, 3)), ..., ...), "1", "only (i, i) pairs"),
    ((1 - np.eye(3), ..., ...), "1", "yours marks the negatives"),
    ((..., 9, ...), "2", "pairs with itself too"),
    ((..., 4, ...), "2", "not only (i, i)"),
    ((..., 7, ...), "2", "count ordered pairs"),
    ((..., 3, ...), "2", "(i, i) pairs count too"),
    ((..., 6, ...), "2", "(i, i) pairs count too"),
    ((..., ..., 1.0), "3", "weighted by `contrastive_weight`"),
    ((..., ..., 0.0), "3", "that is the baseline"),
    ((..., ..., False), "3", "expected a number"),
    ((..., ..., None), "3", "not answered"),
])
def test_notebook05_foreseen_slips_get_their_hint(answers, name, hint, capsys):
    statuses, out = _check05(capsys, *answers)
    expected = UNANSWERED if answers[int(name) - 1] is None else WRONG
    assert statuses[name] == expected and hint in _line(out, name), out
    _own_hint(out, name, "= 10")  # (its pair term 0.5 is also the weight the hint names)


def test_notebook05_the_pair_term_from_section_4s_printed_loss_is_right(capsys):
    # section 4 prints L before its Adam step changes the model: 0.5 x that L is right too, also
    # from the 4 decimals printed; that L itself earns the hint, as the current one does
    before = {"disc_loss": 1.23456}
    for answer, status, hint in [(0.5 * 1.23456, RIGHT, ""), (0.5 * 1.2346, RIGHT, ""),
                                 (0.5, RIGHT, ""), (1.2346, WRONG, "the pair loss L itself"),
                                 (0.5 * 1.24, WRONG, "what does it hold")]:
        statuses, out = _statuses_and_out(capsys, exercises.notebook05, ..., ..., answer,
                                          model=LossModel(), inputs=None, labels=None,
                                          before_step=before)
        assert statuses["3"] == status and hint in _line(out, "3"), (answer, out)


def test_notebook05_a_half_of_the_answer_earns_no_factor_hint(capsys):
    _, out = _check05(capsys, ..., 5, ...)
    assert "factor" not in _line(out, "2")


# --- 06 evaluation ---------------------------------------------------------------------------------

ROWS = [types.SimpleNamespace(system=name, ua=(ua, 1.0)) for name, ua in
        [("baseline", 0.60), ("contrastive-infonce-0.1", 0.63), ("contrastive-infonce-0.3", 0.61),
         ("contrastive-infonce-selected", 0.615)]]
PAPER = [2, 1, 3, -1, 2]
T_INTERVAL = (-0.483, 3.283)  # mean 1.4 +- t(0.975, 4) * sd / sqrt(5), sd = 1.517


def _check06(capsys, *answers):
    return _statuses_and_out(capsys, exercises.notebook06, *answers, lambda_rows=ROWS,
                             paper_diffs=PAPER)


def test_notebook06_right_answers_in_other_forms(capsys):
    from scipy import stats

    d = np.array(PAPER, float)
    found = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    statuses, out = _check06(capsys, np.int64(5), np.float32(1.5), np.array(found),
                             stats.ttest_1samp(d, 0).pvalue, "d")
    assert statuses == {str(i): RIGHT for i in range(1, 6)}, out


@pytest.mark.parametrize(("answers", "name", "hint"), [
    ((15, ..., ..., ..., ...), "1", "averaged within the fold"),
    ((3, ..., ..., ..., ...), "1", "not the seeds"),
    ((..., -1.5, ..., ..., ...), "2", "not the other way round"),
    ((..., 0.015, ..., ..., ...), "2", "not fractions"),
    ((..., ..., (-0.00483, 0.03283), ..., ...), "3", "in points"),
    ((..., ..., (3.283, -0.483), ..., ...), "3", "low comes first"),
    ((..., ..., (0.2, 2.4), ..., ...), "3", "percentile bootstrap"),
    ((..., ..., (-0.8, 2.9), ..., ...), "3", "the differences themselves"),
    ((..., ..., (0.070, 2.730), ..., ...), "3", "1.96"),
    ((..., ..., ..., True, ...), "4", "a number"),
    ((..., ..., ..., ..., True), "5", "one letter"),
])
def test_notebook06_foreseen_slips_get_their_hint(answers, name, hint, capsys):
    statuses, out = _check06(capsys, *answers)
    assert statuses[name] == WRONG and hint in _line(out, name), out
    _own_hint(out, name, "1.5", "-0.48", "3.28")
    assert "paired_t_test(" not in out and "-0.48" not in out and "3.28" not in out
    assert "not this one" not in out


# --- 07 reuse emokit layers ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def models07():
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    n, frames, dims, words, latent = 4, 6, 3, 5, 4
    rng = np.random.default_rng(0)
    batch = {"audio": rng.normal(size=(n, frames, dims)).astype("float32"),
             "audio_mask": np.ones((n, frames), bool),
             "tokens": rng.integers(1, 9, size=(n, words)).astype("int32"),
             "text_mask": np.ones((n, words), bool)}
    labels = np.array([0, 1, 2, 3])
    test = tf.data.Dataset.from_tensor_slices((batch, labels)).batch(n)
    audio = keras.Input((None, dims), name="audio")
    audio_mask = keras.Input((None,), dtype="bool", name="audio_mask")
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    text_mask = keras.Input((None,), dtype="bool", name="text_mask")
    gender = keras.Input((1,), name="gender")
    a = keras.layers.Dense(latent)(keras.layers.GlobalAveragePooling1D()(audio))
    t = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(10, latent)(tokens))
    gate = keras.layers.Dense(latent, activation="sigmoid", name="gate")(
        keras.layers.Concatenate()([a, t]))
    fused = gate * a + (1 - gate) * t
    inputs = [audio, audio_mask, tokens, text_mask]
    classify = keras.layers.Dense(4)
    gated = keras.Model(inputs, classify(fused))
    right = keras.Model(inputs + [gender],
                        keras.layers.Dense(4)(keras.layers.Concatenate()([fused, gender])))
    unused = keras.Model(inputs + [gender], keras.layers.Dense(4)(fused))
    only_gender = keras.Model(inputs + [gender], keras.layers.Dense(4)(gender))
    data = types.SimpleNamespace(test=test, num_classes=4,
                                 class_names=["neutral", "happy", "angry", "sad"])
    return {"gated": gated, "right": right, "unused": unused, "only_gender": only_gender,
            "data": data, "model": gated}


def _check07(capsys, models07, *answers, probabilities=None):
    probabilities = probabilities or {"neutral": 0.1, "happy": 0.6, "angry": 0.2, "sad": 0.1}
    return _statuses_and_out(capsys, exercises.notebook07, *answers, model=models07["model"],
                             data=models07["data"], gated=models07["gated"],
                             probabilities=probabilities)


def test_notebook07_right_answers_in_other_forms(models07, capsys):
    statuses, out = _check07(capsys, models07, 0.6004, np.int64(2 * 4 * 4 + 4), models07["right"])
    assert statuses == {"1": RIGHT, "2": RIGHT, "3": RIGHT}, out


@pytest.mark.parametrize(("answer", "hint"), [
    ("unused", "does not change with `gender`"),
    ("only_gender", "the same for every utterance"),
    ("gated", "expected 5 inputs"),
    ("a string", "expected a keras.Model"),
])
def test_notebook07_a_gender_model_must_use_gender_and_the_codes(models07, answer, hint, capsys):
    statuses, out = _check07(capsys, models07, ..., ..., models07.get(answer, answer))
    assert statuses["3"] == WRONG and hint in _line(out, "3"), out
    _own_hint(out, "3")


def test_notebook07_the_true_class_or_the_pipeline_probability_are_not_what_predict_says(
        models07, capsys):
    from emokit.training.forward import predict_dataset

    pipeline = float(predict_dataset(models07["model"], models07["data"].test)[1][0].max())
    # the first test utterance is "neutral": its probability is not the top one
    statuses, out = _check07(capsys, models07, 0.1, ..., ...)
    assert statuses["1"] == WRONG and "probability of the true class" in _line(out, "1")
    probabilities = {"neutral": 0.05, "happy": 0.9, "angry": 0.03, "sad": 0.02}
    statuses, out = _check07(capsys, models07, pipeline, ..., ..., probabilities=probabilities)
    assert statuses["1"] == WRONG and "normalizes a new speaker" in _line(out, "1"), out
    statuses, out = _check07(capsys, models07, "happy", 32, ...)
    assert "not a class name" in _line(out, "1") and "bias per output" in _line(out, "2")


def test_notebook07_the_whole_models_count_is_not_the_gates(models07, capsys):
    whole = models07["gated"].count_params()
    statuses, out = _check07(capsys, models07, ..., whole, ...)
    assert statuses["2"] == WRONG and "counts the whole model" in _line(out, "2"), out


# --- 08 robustness ---------------------------------------------------------------------------------

def _rows08():
    """Three folds: baseline and regularized, intact and under 0 dB babble and missing text."""
    table = {  # (system, condition, level): UA per fold
        ("baseline", "intact", ""): (0.60, 0.70, 0.80),
        ("baseline", "audio_noise_babble", 0): (0.30, 0.42, 0.60),
        ("baseline", "text_missing", ""): (0.55, 0.69, 0.70),
        ("contrastive-infonce-0.3", "intact", ""): (0.62, 0.69, 0.81),
        ("contrastive-infonce-0.3", "audio_noise_babble", 0): (0.33, 0.40, 0.41),
        ("contrastive-infonce-0.3", "text_missing", ""): (0.60, 0.74, 0.76),
    }
    return [{"system": s, "fold": k + 1, "seed": 0, "condition": c, "level": lv, "wa": ua,
             "ua": ua} for (s, c, lv), values in table.items() for k, ua in enumerate(values)]


def _check08(capsys, *answers):
    return _statuses_and_out(capsys, exercises.notebook08, *answers, rows=_rows08(),
                             regularized="contrastive-infonce-0.3")


def test_notebook08_right_answers_in_other_forms(capsys):
    from scipy import stats

    kept = np.mean([0.30 / 0.60, 0.42 / 0.70, 0.60 / 0.80])  # fold by fold, then the mean
    d = np.array([5.0, 5.0, 6.0])  # text_missing: regularized - baseline, in points
    interval = stats.t.interval(0.95, 2, loc=d.mean(), scale=stats.sem(d))
    statuses, out = _check08(capsys, np.float32(kept), np.array(interval))
    assert statuses == {"1": RIGHT, "2": RIGHT}, out


@pytest.mark.parametrize(("answers", "name", "hint"), [
    ((100 * np.mean([0.5, 0.6, 0.75]), ...), "1", "a percentage"),
    ((np.mean([0.30, 0.42, 0.60]), ...), "1", "divide it by the clean"),
    ((np.mean([0.30, 0.42, 0.60]) / np.mean([0.60, 0.70, 0.80]), ...), "1", "fold by fold"),
    ((..., False), "2", "two numbers"),
    ((..., 5.33), "2", "the mean difference"),
])
def test_notebook08_foreseen_slips_get_their_hint(answers, name, hint, capsys):
    statuses, out = _check08(capsys, *answers)
    assert statuses[name] == WRONG and hint in _line(out, name), out
    _own_hint(out, name)
    assert "retention(" not in out and "not this one" not in out


# --- 09 pretrained encoders ------------------------------------------------------------------------

def _check09(capsys, monkeypatch, *answers):
    """A Whisper of 6 layers, 512 wide (whisper_base_en's shape), and a table of four systems."""
    from emokit.config import FeatureConfig
    from emokit.data import hub_encoders

    seen = []

    def encoder(config):
        seen.append(config)
        return types.SimpleNamespace(num_layers=6, hidden_dim=512)

    monkeypatch.setattr(hub_encoders, "audio_encoder", encoder)
    rows = [types.SimpleNamespace(system=s, ua=(ua, 0.0), wa=(wa, 0.0)) for s, ua, wa in (
        ("audio", 0.44, 0.46), ("text", 0.22, 0.26), ("baseline", 0.41, 0.50),
        ("contrastive-infonce-0.3", 0.39, 0.37))]
    features = FeatureConfig(kind="hub", hub_preset="whisper_base_en")
    result = _statuses_and_out(capsys, exercises.notebook09, *answers, features=features,
                               rows=rows)
    assert seen and seen[0].hub_layers == "weighted" and seen[0].hub_preset == "whisper_base_en"
    return result


def test_notebook09_right_answers_in_other_forms(capsys, monkeypatch):
    statuses, out = _check09(capsys, monkeypatch, np.int64(50 * 7 * 512), "audio")
    assert statuses == {"1": RIGHT, "2": RIGHT}, out
    statuses, out = _check09(capsys, monkeypatch, 179200.0, ...)
    assert statuses == {"1": RIGHT, "2": UNANSWERED}, out


@pytest.mark.parametrize(("answers", "name", "hint"), [
    ((50 * 6 * 512, ...), "1", "count the embeddings too"),
    ((7 * 512, ...), "1", "a second holds 50"),
    ((100 * 7 * 512, ...), "1", "50 frames per second"),
    ((4 * 50 * 7 * 512, ...), "1", "that is bytes"),
    ((50 * 512, ...), "1", "one layer's cost"),
    ((..., "text"), "2", "lowest UA"),
    ((..., "baseline"), "2", "highest WA"),
    ((..., "fused"), "2", "one of the table's systems"),
    ((..., True), "2", "one of the table's systems"),
])
def test_notebook09_foreseen_slips_get_their_hint(answers, name, hint, capsys, monkeypatch):
    statuses, out = _check09(capsys, monkeypatch, *answers)
    assert statuses[name] == WRONG and hint in _line(out, name), out
    assert "179200" not in out and "'audio'" not in out.replace("['audio'", "")
