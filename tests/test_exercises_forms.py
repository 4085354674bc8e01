"""Issue 26: no graded answer a guess can win, printed values accepted at their printed precision,
a percentage for a fraction told so, and 07-3's model accepted in every right form.

For each exercise changed here, each foreseen slip is rejected with a hint of its own (not the
generic one, and holding no form of the answer), and each right form is accepted. The checkers
are called directly on small constructed objects, so no notebook runs here."""

import types

import numpy as np
import pytest

from emokit.course import exercises
from emokit.course.checking import RIGHT, WRONG

GENERIC = "not this one"


def _run(capsys, function, *args, **kwargs):
    statuses = function(*args, **kwargs)
    return statuses, capsys.readouterr().out


def _line(out, name):
    return next(line for line in out.splitlines() if f"exercise {name}:" in line)


def _own_hint(line, *answers):
    """The line's hint: not the generic one, and it gives none of ``answers`` away."""
    hint = line.split("(", 1)[1] if "(" in line else ""
    assert hint and GENERIC not in hint, line
    for answer in answers:
        assert answer not in hint, (answer, line)
    return hint


def _number_forms(value, decimals=(1, 2, 3)):
    return [f"{value:.{d}f}" for d in decimals]


# --- 00: a letter among five, worked out from use_accelerator ------------------------------------

def test_notebook00_the_letter_is_right_in_any_case_and_every_slip_has_its_hint(capsys):
    for right in ("c", "C", " (c) ", "c."):
        statuses, out = _run(capsys, exercises.notebook00, right, 64)
        assert statuses == {"1": RIGHT, "2": RIGHT}, out
    hints = set()
    for slip in ("a", "b", "d", "e", True, False, "z", 3):
        statuses, out = _run(capsys, exercises.notebook00, slip, ...)
        assert statuses["1"] == WRONG, slip
        hints.add(_own_hint(_line(out, "1"), '"c"', "'c'", "distribute", "Mirrored"))
    assert len(hints) >= 4  # the options' slips are told apart, not one message for all
    for slip in (16, 4, 128):
        statuses, out = _run(capsys, exercises.notebook00, ..., slip)
        assert statuses["2"] == WRONG
        _own_hint(_line(out, "2"), "64")


def test_notebook00s_right_letter_follows_use_accelerator(capsys, monkeypatch):
    from emokit.config import accelerator

    real = accelerator.use_accelerator

    def no_strategy(config, gpu_count=None):  # a kit whose two GPUs got no MirroredStrategy
        import dataclasses

        out = real(config, gpu_count)
        return dataclasses.replace(out, train=dataclasses.replace(out.train, distribute=False))

    monkeypatch.setattr("emokit.training.runtime.use_accelerator", no_strategy)
    statuses, _ = _run(capsys, exercises.notebook00, "c", ...)
    assert statuses["1"] == WRONG


# --- 06: the p-value and the reading -------------------------------------------------------------

ROWS = [types.SimpleNamespace(system=name, ua=(ua, 1.0)) for name, ua in
        [("baseline", 0.60), ("contrastive-infonce-0.1", 0.63), ("contrastive-infonce-0.3", 0.61),
         ("contrastive-infonce-selected", 0.615)]]
PAPER = [2, 1, 3, -1, 2]  # t = 2.064, 4 df: p = 0.1079 two-sided; the interval holds 0


def _check06(capsys, p_value, reading, diffs=PAPER):
    return _run(capsys, exercises.notebook06, ..., ..., ..., p_value, reading, lambda_rows=ROWS,
                paper_diffs=diffs)


def test_notebook06_p_and_reading_right_forms(capsys):
    from scipy import stats

    p = stats.ttest_1samp(PAPER, 0).pvalue
    for p_form, reading in [(p, "d"), (np.float32(p), "D"), (round(p, 3), "(d)")]:
        statuses, out = _check06(capsys, p_form, reading)
        assert statuses["4"] == RIGHT and statuses["5"] == RIGHT, out


def test_notebook06s_reading_follows_the_data(capsys):
    clear = [2, 3, 3, 2, 4]  # all above 0: the interval excludes 0 and p < 0.05
    statuses, out = _check06(capsys, ..., "a", clear)
    assert statuses["5"] == RIGHT, out
    statuses, out = _check06(capsys, ..., "d", clear)
    assert statuses["5"] == WRONG
    _own_hint(_line(out, "5"), '"a"')


@pytest.mark.parametrize(("p_value", "hint"), [
    (0.1079 / 2, "one-sided"),
    (1 - 0.1079, "1 - p"),
    (0.039, "normal distribution"),
    (0.1875, "Wilcoxon"),
    (2.064, "t statistic"),
    (10.79, "between 0 and 1"),
    ("0.108", "a number"),
])
def test_notebook06_p_value_slips(p_value, hint, capsys):
    statuses, out = _check06(capsys, p_value, ...)
    assert statuses["4"] == WRONG and hint in _line(out, "4"), out
    _own_hint(_line(out, "4"), "0.108", "0.1079", "0.11")


@pytest.mark.parametrize(("reading", "hint"), [
    ("b", "always agree"), ("c", "always agree"), ("e", "noise"), ("a", "is 0 inside"),
    (False, "one letter"), ("f", "one letter"),
])
def test_notebook06_reading_slips(reading, hint, capsys):
    statuses, out = _check06(capsys, ..., reading)
    assert statuses["5"] == WRONG and hint in _line(out, "5"), out
    _own_hint(_line(out, "5"), '"d"', "'d'")


# --- 08: retention copied from the table, and the interval in points -----------------------------

def _rows08():
    table = {  # (system, condition, level): UA per fold
        ("baseline", "intact", ""): (0.60, 0.70, 0.80),
        ("baseline", "audio_noise_babble", 0): (0.30, 0.42, 0.60),
        ("baseline", "text_missing", ""): (0.55, 0.69, 0.70),
        ("baseline", "audio_missing", ""): (0.40, 0.45, 0.52),
        ("contrastive-infonce-0.3", "intact", ""): (0.62, 0.69, 0.83),
        ("contrastive-infonce-0.3", "audio_noise_babble", 0): (0.33, 0.40, 0.41),
        ("contrastive-infonce-0.3", "text_missing", ""): (0.60, 0.70, 0.76),
        ("contrastive-infonce-0.3", "audio_missing", ""): (0.41, 0.49, 0.50),
    }
    return [{"system": s, "fold": k + 1, "seed": 0, "condition": c, "level": lv, "wa": ua,
             "ua": ua} for (s, c, lv), values in table.items() for k, ua in enumerate(values)]


KEPT = float(np.mean([0.30 / 0.60, 0.42 / 0.70, 0.60 / 0.80]))  # 0.6167: the table prints 62


def _interval(a, b):
    from scipy import stats

    d = 100 * (np.array(a) - np.array(b))
    return stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))


INTERVAL = _interval((0.60, 0.70, 0.76), (0.55, 0.69, 0.70))  # mean +4.0 points: (-2.6, 10.6)


def _check08(capsys, kept, ci):
    return _run(capsys, exercises.notebook08, kept, ci, rows=_rows08(),
                regularized="contrastive-infonce-0.3")


def test_notebook08_right_forms_include_what_the_table_prints(capsys):
    low, high = INTERVAL
    for kept, ci in [(KEPT, INTERVAL), (np.float32(KEPT), np.array(INTERVAL)),
                     (0.62, (round(low, 1), round(high, 1))), (round(KEPT, 3), [low, high])]:
        statuses, out = _check08(capsys, kept, ci)
        assert statuses == {"1": RIGHT, "2": RIGHT}, (kept, ci, out)


@pytest.mark.parametrize(("kept", "hint"), [
    (100 * KEPT, "a percentage"), (62, "a percentage"),
    (float(np.mean([0.30, 0.42, 0.60])), "UA itself"),
    (float(np.mean([0.30, 0.42, 0.60]) / np.mean([0.60, 0.70, 0.80])), "fold by fold"),
    (KEPT / 100, "factor of 100"), ("0.62", "a number"),
])
def test_notebook08_retention_slips(kept, hint, capsys):
    statuses, out = _check08(capsys, kept, ...)
    assert statuses["1"] == WRONG and hint in _line(out, "1"), out
    _own_hint(_line(out, "1"), "0.62", "0.617", "62 %")


def test_notebook08_interval_slips(capsys):
    low, high = INTERVAL
    base = (0.55, 0.69, 0.70)
    slips = {
        "fraction": ((low / 100, high / 100), "not fractions"),
        "flipped": ((-high, -low), "not the other way round"),
        "swapped": ((high, low), "low comes first"),
        "intact": (_interval((0.62, 0.69, 0.83), (0.60, 0.70, 0.80)), "intact condition"),
        "audio": (_interval((0.41, 0.49, 0.50), (0.40, 0.45, 0.52)), "`audio_missing`"),
        "mean": (4.0, "the mean difference"),
        "bool": (False, "two numbers"),
    }
    from scipy import stats

    unpaired = stats.ttest_ind((60, 70, 76), (55, 69, 70), equal_var=False).confidence_interval()
    slips["unpaired"] = (tuple(unpaired), "independent samples")
    assert base  # the baseline's text_missing UA above
    for name, (answer, hint) in slips.items():
        statuses, out = _check08(capsys, ..., answer)
        assert statuses["2"] == WRONG and hint in _line(out, "2"), (name, out)
        _own_hint(_line(out, "2"), *_number_forms(low), *_number_forms(high))


# --- percentages for fractions: each fraction exercise tells them apart --------------------------

def test_a_percentage_for_a_fraction_gets_its_own_hint_in_01_03_and_07(capsys):
    # 01-2: 1 tagged transcript of 4 rows
    rows = [types.SimpleNamespace(speaker="Ses04M", transcript=t, label="neutral")
            for t in ("[LAUGHTER] yes", "no", "well", "okay")]
    statuses, out = _run(capsys, exercises.notebook01, ..., 25.0, ..., labelled=rows, rows=rows,
                         truth=[])
    assert statuses["2"] == WRONG and "a percentage" in _line(out, "2")
    _own_hint(_line(out, "2"), "0.25")


# --- 07-3: every right form of the gender model, one line for every wrong one ---------------------

N, FRAMES, DIMS, WORDS, LATENT, CLASSES = 4, 6, 3, 5, 4, 4


@pytest.fixture(scope="module")
def keras07():
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    batch = {"audio": rng.normal(size=(N, FRAMES, DIMS)).astype("float32"),
             "audio_mask": np.ones((N, FRAMES), bool),
             "tokens": rng.integers(1, 9, size=(N, WORDS)).astype("int32"),
             "text_mask": np.ones((N, WORDS), bool)}
    test = tf.data.Dataset.from_tensor_slices((batch, np.arange(N) % CLASSES)).batch(N)
    return types.SimpleNamespace(batch=batch, data=types.SimpleNamespace(
        test=test, num_classes=CLASSES, class_names=["neutral", "happy", "angry", "sad"]))


def _symbolic(keras):
    inputs = {"audio": keras.Input((None, DIMS), name="audio"),
              "audio_mask": keras.Input((None,), dtype="bool", name="audio_mask"),
              "tokens": keras.Input((None,), dtype="int32", name="tokens"),
              "text_mask": keras.Input((None,), dtype="bool", name="text_mask"),
              "gender": keras.Input((1,), name="gender")}
    a = keras.layers.Dense(LATENT)(keras.layers.GlobalAveragePooling1D()(inputs["audio"]))
    t = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(10, LATENT)(inputs["tokens"]))
    gate = keras.layers.Dense(LATENT, activation="sigmoid", name="gate")(
        keras.layers.Concatenate()([a, t]))
    return inputs, gate * a + (1 - gate) * t


def _gated(keras):
    inputs, fused = _symbolic(keras)
    return keras.Model([inputs[k] for k in ("audio", "audio_mask", "tokens", "text_mask")],
                       keras.layers.Dense(CLASSES)(fused))


def _check07(capsys, keras07, model):
    import keras

    gated = _gated(keras)
    return _run(capsys, exercises.notebook07, ..., ..., model, model=gated, data=keras07.data,
                gated=gated, probabilities={"neutral": 0.1, "happy": 0.6, "angry": 0.2,
                                            "sad": 0.1})


def _tiny_config():
    from emokit.config import ModelConfig

    return ModelConfig(latent_dim=LATENT, audio_conv_filters=4, audio_conv_kernel=3,
                       audio_conv_layers=1, audio_rnn_units=4, text_rnn_units=4,
                       discriminator_units=4, dropout=0.0)


def _emotion_subclass(right: bool):
    """A subclass of emokit's EmotionModel that reads ``inputs["gender"]``: right with a new
    classifier for the wider code, wrong with the built one."""
    from keras import ops

    from emokit.model.emotion_model import EmotionModel, build_model
    from emokit.model.layers import EmotionClassifier

    class GenderModel(EmotionModel):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.with_gender = EmotionClassifier(self.num_classes, 0.0)

        def call(self, inputs, training=None):
            audio_code, text_code = self.encode(inputs, training=training)
            code = ops.concatenate([self.fusion([audio_code, text_code]), inputs["gender"]], -1)
            head = self.with_gender if right else self.classifier
            return head(code, training=training)

    return build_model(_tiny_config(), DIMS, 10, CLASSES, seed=0, model_class=GenderModel)


def _right_models():
    import keras

    inputs, fused = _symbolic(keras)
    out = keras.layers.Dense(CLASSES)(keras.layers.Concatenate()([fused, inputs["gender"]]))
    as_list = keras.Model([inputs[k] for k in ("audio", "audio_mask", "tokens", "text_mask",
                                                "gender")], out)
    as_dict = keras.Model(inputs, out)
    unnamed = keras.Input((1,))  # a fifth input under Keras' own name
    as_list_unnamed = keras.Model(
        [inputs[k] for k in ("audio", "audio_mask", "tokens", "text_mask")] + [unnamed],
        keras.layers.Dense(CLASSES)(keras.layers.Concatenate()([fused, unnamed])))

    class Plain(keras.Model):
        def __init__(self):
            super().__init__()
            self.embed = keras.layers.Embedding(10, LATENT)
            self.head = keras.layers.Dense(CLASSES)

        def call(self, inputs):
            audio = keras.ops.mean(inputs["audio"], axis=1)
            text = keras.ops.mean(self.embed(inputs["tokens"]), axis=1)
            return self.head(keras.ops.concatenate([audio, text, inputs["gender"]], -1))

    return {"functional, list": as_list, "functional, dict": as_dict,
            "functional, unnamed fifth": as_list_unnamed, "keras.Model subclass": Plain(),
            "EmotionModel subclass": _emotion_subclass(right=True)}


def test_notebook07_every_right_form_of_the_gender_model_is_accepted(keras07, capsys):
    for name, model in _right_models().items():
        statuses, out = _check07(capsys, keras07, model)
        assert statuses["3"] == RIGHT, (name, out)


def _wrong_models():
    import keras

    class ReadsSex(keras.Model):
        def __init__(self):
            super().__init__()
            self.head = keras.layers.Dense(CLASSES)

        def call(self, inputs):
            return self.head(keras.ops.concatenate([keras.ops.mean(inputs["audio"], 1),
                                                    inputs["sex"]], -1))

    class NoGender(keras.Model):
        def __init__(self):
            super().__init__()
            self.head = keras.layers.Dense(CLASSES)

        def call(self, inputs):
            return self.head(keras.ops.mean(inputs["audio"], 1))

    return {
        "built classifier": (_emotion_subclass(right=False), "a layer built for inputs of width"),
        "unknown key": (ReadsSex(), "it reads the input 'sex'"),
        "gender unused": (NoGender(), "does not change with `gender`"),
        "a layer": (keras.layers.Dense(4), "expected a keras.Model, got Dense"),
    }


def test_notebook07_a_wrong_model_gets_one_line_naming_the_cause(keras07, capsys):
    for name, (model, hint) in _wrong_models().items():
        statuses, out = _check07(capsys, keras07, model)
        line = _line(out, "3")
        assert statuses["3"] == WRONG and hint in line, (name, out)
        assert len(line) < 300 and "Traceback" not in out and "\x1b[" not in out, (name, out)
        assert "not a keras.Model" not in line


def test_the_graders_stand_in_for_a_model_it_could_not_rebuild_is_named(keras07, capsys):
    from emokit.course.answers import opaque

    statuses, out = _check07(capsys, keras07, opaque("unloadable model (TypeError)"))
    assert statuses["3"] == WRONG and "could not rebuild" in _line(out, "3"), out


def test_notebook07_a_percentage_for_the_probability_gets_its_own_hint(keras07, capsys):
    import keras

    gated = _gated(keras)
    statuses, out = _run(capsys, exercises.notebook07, 60.0, ..., ..., model=gated,
                         data=keras07.data, gated=gated,
                         probabilities={"neutral": 0.1, "happy": 0.6, "angry": 0.2, "sad": 0.1})
    assert statuses["1"] == WRONG and "a percentage" in _line(out, "1"), out
    _own_hint(_line(out, "1"), "0.6")



def test_the_graders_extraction_sends_a_functional_model_and_names_a_subclassed_one(
        tmp_path, keras07, capsys):
    import keras

    from emokit.course import answers

    models = _right_models()
    namespace = {"functional": models["functional, dict"],
                 "subclassed": models["EmotionModel subclass"]}
    path = tmp_path / "answers.json"
    exec(answers.extraction_cell(["functional", "subclassed"], path), namespace)
    functional, subclassed = answers.load(path)
    assert isinstance(functional, keras.Model) and len(functional.inputs) == 5
    assert type(subclassed).__name__.lower().startswith("unloadablemodel")
    assert _check07(capsys, keras07, functional)[0]["3"] == RIGHT  # judged as the grader does
    statuses, out = _check07(capsys, keras07, subclassed)
    assert statuses["3"] == WRONG and "could not rebuild" in _line(out, "3"), out
