"""Feedback for the course notebooks' exercises.

A student notebook leaves each answer as ``...`` (or ``None``); ``check`` then says "not answered
yet" and the notebook runs on. A right answer says so; a wrong one gets a hint that points at the
kind of mistake (wrong type, wrong shape or length, off by a factor, a mistake the exercise
foresees) without printing the right answer. ``check`` never raises, so an unanswered or wrong
exercise never stops a notebook; it prints one line per exercise and returns its status.

    check("1", n_positive, expected=10,
          hints=[(9, "count the pairs of an utterance with itself too")])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

UNANSWERED = "not answered yet"
RIGHT = "right"
WRONG = "not right yet"

Hint = tuple[Any, str]  # (a wrong answer, or a predicate on the answer, that earns the message)


def is_unanswered(answer: Any) -> bool:
    """True for the placeholders a student notebook starts with: ``...`` and ``None``."""
    return answer is ... or answer is None


def check(name: str, answer: Any, expected: Any = None, *, accept: Callable[[Any], bool] | None = None,
          hints: Sequence[Hint] = (), hint: str = "", rtol: float = 1e-6, atol: float = 1e-9) -> str:
    """Print and return the status of exercise ``name``: "not answered yet", "right" or "not right yet".

    ``expected`` is the right answer (a number, a string, a sequence or an array, compared with the
    tolerances for numbers); for answers with many right forms pass ``accept``, a predicate.
    ``hints`` are ``(wrong_answer_or_predicate, message)`` pairs tried in order on a wrong answer;
    ``hint`` is the message when no foreseen mistake matches.
    """
    if is_unanswered(answer):
        return _report(name, UNANSWERED, "replace the `...` with your answer")
    try:
        right = accept(answer) if accept is not None else _equal(answer, expected, rtol, atol)
    except Exception as error:  # noqa: BLE001 - a malformed answer is wrong, not a crash
        return _report(name, WRONG, f"checking it raised {type(error).__name__}: {error}")
    if right:
        return _report(name, RIGHT, "")
    return _report(name, WRONG, _hint_for(answer, expected, accept is None, hints, hint, rtol, atol))


def _report(name: str, status: str, detail: str) -> str:
    mark = {RIGHT: "✓", WRONG: "✗", UNANSWERED: "…"}[status]
    print(f"{mark} exercise {name}: {status}" + (f" ({detail})" if detail else ""))
    return status


def _equal(answer: Any, expected: Any, rtol: float, atol: float) -> bool:
    if isinstance(expected, str) or isinstance(answer, str):
        return answer == expected
    if isinstance(expected, bool) or isinstance(answer, bool):
        return isinstance(answer, (bool, np.bool_)) and bool(answer) == expected
    a, e = np.asarray(answer), np.asarray(expected)
    if a.shape != e.shape:
        return False
    if a.dtype.kind in "biuf" and e.dtype.kind in "biuf":
        return bool(np.allclose(a, e, rtol=rtol, atol=atol))
    return bool(np.array_equal(a, e))


def _hint_for(answer, expected, has_expected, hints, fallback, rtol, atol) -> str:
    for wrong, message in hints:
        try:
            matched = wrong(answer) if callable(wrong) else _equal(answer, wrong, rtol, atol)
        except Exception:  # noqa: BLE001 - a hint that does not apply
            matched = False
        if matched:
            return message
    if has_expected:
        generic = _shape_hint(answer, expected)
        if generic:
            return generic
    return fallback or "not this one: reread the exercise and try again"


def _shape_hint(answer, expected) -> str:
    """A hint about the form of the answer: its type, shape, length, or a factor it is off by."""
    if isinstance(expected, bool):
        return "" if isinstance(answer, (bool, np.bool_)) else "expected True or False"
    if isinstance(expected, str):
        return "" if isinstance(answer, str) else f"expected a string, got {type(answer).__name__}"
    if isinstance(expected, (int, float, np.number)):
        if not isinstance(answer, (int, float, np.number)) or isinstance(answer, bool):
            if np.ndim(answer) > 0:
                return f"expected a single number, got something of shape {np.shape(answer)}"
            return f"expected a number, got {type(answer).__name__}"
        if expected != 0 and answer != 0 and math.isfinite(answer):
            ratio = answer / expected
            for factor in (2, 3, 4, 10, 100, 1000):
                for r, word in ((factor, "larger"), (1 / factor, "smaller")):
                    if math.isclose(ratio, r, rel_tol=1e-6):
                        return f"off by a factor of {factor}: yours is {factor}x {word}"
        return ""
    answer_shape, expected_shape = np.shape(answer), np.shape(expected)
    if answer_shape != expected_shape:
        if len(expected_shape) == 1 and len(answer_shape) == 1:
            return f"expected {expected_shape[0]} items, got {answer_shape[0]}"
        return f"expected shape {expected_shape}, got {answer_shape}"
    return ""


# --- The course notebooks' exercises -------------------------------------------------------------
# One function per notebook. Each takes the student's answers and the notebook objects the answers
# come from, works the right answers out itself (so they appear in no notebook) and prints one
# line per exercise. The reference solutions are in notebooks/solutions/.


def notebook00(answer_1, answer_2) -> dict[str, str]:
    """00 getting started: what ``use_accelerator`` changes."""
    import dataclasses

    from emokit.config import ExperimentConfig
    from emokit.runtime import use_accelerator

    small = ExperimentConfig(pipeline=dataclasses.replace(ExperimentConfig().pipeline, batch_size=16))
    return {
        "1": check("1", answer_1, use_accelerator(ExperimentConfig(), gpu_count=2).train.distribute,
                   hint="build the two-GPU config and read its `train.distribute`"),
        "2": check("2", answer_2, use_accelerator(small, gpu_count=1).pipeline.batch_size,
                   hints=[(16, "that is the batch you started from: a GPU changes it")]),
    }


def notebook01(answer_1, answer_2, answer_3, *, labelled, rows, truth) -> dict[str, str]:
    """01 data: counting in the manifest and the ground truth."""
    import re

    session_3 = sum(r.speaker.startswith("Ses03") for r in labelled)
    tagged = [r for r in rows if re.search(r"\[[A-Z]+\]", r.transcript)]
    text_away = [t for t in truth if t["text_emotion"] not in ("", t["label"])]
    return {
        "1": check("1", answer_1, sum(r.speaker == "Ses03M" for r in labelled),
                   hints=[(session_3, "that counts both speakers of session 3: only Ses03M"),
                          (sum(r.speaker == "Ses03M" for r in rows),
                           "count only the labelled (4-class) rows")]),
        "2": check("2", answer_2, len(tagged) / len(rows),
                   hints=[(lambda a: a > 1, "a fraction lies between 0 and 1"),
                          (lambda a: math.isclose(a, 100 * len(tagged) / len(rows)),
                           "a fraction, not a percentage")],
                   hint="over all rows of `rows`, count the transcripts holding a [TOKEN]"),
        "3": check("3", answer_3, sum(t["audio_emotion"] != t["label"] for t in text_away),
                   hints=[(len(text_away), ("that counts the words pointing away: the voice must "
                                           "point away too"))]),
    }


def notebook02(answer_1, answer_2, answer_3, *, features, train_ids, speakers, config) -> dict[str, str]:
    """02 audio features: frames, dims and normalization."""
    import dataclasses

    from emokit.features import FeatureNormalizer, feature_dim, frame_count

    samples = int(3.2 * config.sample_rate)
    norm = FeatureNormalizer.fit(features, train_ids, speakers, "global")
    frames = np.concatenate([norm.transform(u, features[u]) for u in train_ids])
    return {
        "1": check("1", answer_1, frame_count(samples, config),
                   hints=[(frame_count(samples, config) - 1, "a frame starts at sample 0 too")]),
        "2": check("2", answer_2, feature_dim(dataclasses.replace(config, n_mfcc=20)),
                   hints=[(20, "the MFCCs come with their deltas and delta-deltas, and prosody"),
                          (60, "and the prosody dims?")]),
        "3": check("3", answer_3, float(np.abs(frames.mean(axis=0)).max()), atol=1e-6,
                   hint="normalize the training frames with a 'global' normalizer, then take "
                        "the mean over frames of each dim"),
    }


def notebook03(answer_1, answer_2, answer_3, *, utterances, tokens, fold) -> dict[str, str]:
    """03 text features: tokens, folds and vocabularies."""
    from emokit.folds import make_folds
    from emokit.text import Vocabulary, oov_rate, tokenize

    test_tokens = [tokens[i] for i in fold.test_ids]
    train_tokens = [tokens[i] for i in fold.train_ids]
    speaker_fold = next(f for f in make_folds(utterances, "speaker") if f.test_speakers == ("Ses03M",))
    return {
        "1": check("1", answer_1, tokenize("[BREATHING] Well -- I'm NOT going, uh-huh."),
                   hints=[(lambda a: any("breathing" in t.lower() for t in a),
                           "annotations in square brackets are not words"),
                          (lambda a: any(t != t.lower() for t in a), "tokens are lowercased")]),
        "2": check("2", answer_2, speaker_fold.val_speakers,
                   hints=[(lambda a: isinstance(a, str), "`val_speakers` is a tuple of names"),
                          (speaker_fold.test_speakers, "that speaker is tested, not validating")]),
        "3": check("3", answer_3, oov_rate(test_tokens, Vocabulary.build(train_tokens, 2)),
                   hints=[(oov_rate(test_tokens, Vocabulary.build(train_tokens, 1)),
                           "that is the rate with min_count=1")]),
    }


def notebook04(fused_width, my_ua, saved, *, baseline, results, data, config) -> dict[str, str]:
    """04 fusion baseline: the fused width, UA from a confusion matrix, frozen embeddings."""
    import dataclasses

    from emokit.model import build_model

    def trainable(train_embeddings: bool) -> int:
        cfg = dataclasses.replace(config.model, modalities="text", train_embeddings=train_embeddings)
        model = build_model(cfg, data.feature_dim, len(data.vocab), data.num_classes,
                            embedding_matrix=data.embedding_matrix, seed=0)
        return sum(int(np.prod(v.shape)) for v in model.variables_to_train())

    latent = np.zeros((1, config.model.latent_dim), "float32")
    confusion = np.asarray(results["fused"]["confusion"], dtype=float)
    return {
        "1": check("1", fused_width, int(baseline.fusion([latent, latent]).shape[-1]),
                   hints=[(config.model.latent_dim, "the fused vector holds both codes")]),
        "2": check("2", my_ua, results["fused"]["ua"],
                   hints=[(np.trace(confusion) / confusion.sum(),
                           "that is WA (accuracy): UA averages the per-class recalls"),
                          (np.mean(np.diag(confusion) / np.maximum(confusion.sum(axis=0), 1)),
                           "rows are the true classes: divide by the row sums")]),
        "3": check("3", saved, trainable(True) - trainable(False),
                   hints=[(lambda a: a < 0, "the frozen model has fewer: subtract the other way")],
                   hint="which weights stop training when the word vectors are frozen?"),
    }


def notebook05(instance_targets, n_positive, difference, *, model, inputs, labels) -> dict[str, str]:
    """05 contrastive regularization: pair targets and the baseline's objective."""
    from emokit.pairs import pair_targets

    out = model.compute_losses(inputs, labels)
    return {
        "1": check("1", instance_targets, pair_targets(np.array([0, 1, 2]), "instance").numpy(),
                   hints=[(np.ones((3, 3)), "with instance pairing only (i, i) pairs are the same")]),
        "2": check("2", n_positive, int(pair_targets(np.array([2, 2, 1, 2]), "label").numpy().sum()),
                   hints=[(9, "the utterance labelled 1 pairs with itself too"),
                          (4, "label pairing: every same-label pair counts, not only (i, i)")]),
        "3": check("3", difference, float(out["loss"] - out["ce"]),
                   hint="with contrastive_weight = 0 what is added to the cross-entropy?"),
    }


def notebook06(answer_1, answer_2, ci, excludes_zero, below_005, *, lambda_rows,
               paper_diffs) -> dict[str, str]:
    """06 evaluation: reading Wilcoxon p-values and bootstrap intervals."""
    from emokit.report import bootstrap_ci, wilcoxon_test

    systems = [r.system for r in lambda_rows]
    best = max(lambda_rows, key=lambda row: row.ua[0]).system
    interval = bootstrap_ci(paper_diffs, seed=0)
    return {
        "1": check("1", answer_1, wilcoxon_test([0.01 * i for i in range(1, 9)]).p_value,
                   rtol=1e-9, hint="how many sign patterns are there, and how many are as extreme?"),
        "2": check("2", answer_2, best,
                   hints=[(lambda a: a not in systems, f"pick one of {systems}")],
                   hint="compare the mean UA (`row.ua[0]`) of the rows"),
        "3": check("3", ci, interval, hint="`report.bootstrap_ci(paper_diffs, seed=0)`, in points"),
        "4": check("4", excludes_zero, bool(interval[0] > 0 or interval[1] < 0),
                   hint="is 0 inside the interval?"),
        "5": check("5", below_005, bool(wilcoxon_test(paper_diffs).p_value < 0.05),
                   hint="with 5 pairs, what is the smallest two-sided p the test can give?"),
    }


def notebook07(answer_1, answer_2, answer_3, *, model, data, gated,
               probabilities) -> dict[str, str]:
    """07 reuse emokit's layers: what ``emokit.predict`` says (``probabilities``, its dict for
    ``test_row``), a layer's weights, a third input."""
    from emokit.training import predict_dataset

    latent = gated.get_layer("gate").units
    predicted = max(probabilities, key=probabilities.get)
    model_class = data.class_names[int(np.argmax(predict_dataset(model, data.test)[1][0]))]
    not_predicts = ("that is the model's class on the pipeline's features; emokit.predict "
                    "normalizes a new speaker with the training fold's statistics, so a barely "
                    "trained model can differ: store what emokit.predict says")
    return {
        "1": check("1", answer_1, predicted,
                   hints=[(lambda a: a not in data.class_names, f"one of {list(data.class_names)}"),
                          (lambda a: a == model_class != predicted, not_predicts)],
                   hint="the class with the largest probability"),
        "2": check("2", answer_2, gated.get_layer("gate").count_params(),
                   hints=[(2 * latent * latent, "a dense layer has a bias per output too"),
                          (latent * latent + latent, "its input is both codes, concatenated")]),
        "3": check("3", answer_3, accept=lambda a: len(a.inputs) == 5
                   and tuple(a.output_shape) == (None, data.num_classes),
                   hint="the four inputs of `gated` plus `gender`, and num_classes logits"),
    }


def notebook08(kept, excludes_zero, *, rows, regularized) -> dict[str, str]:
    """08 robustness: the share of its clean UA the baseline keeps under 0 dB babble, and whether
    the regularized system's paired interval under ``text_missing`` excludes 0."""
    from emokit.robustness import fold_means, paired_over_folds, retention

    share = retention(rows, "baseline", "audio_noise_babble", 0)
    difference = paired_over_folds(fold_means(rows, regularized, "text_missing", ""),
                                   fold_means(rows, "baseline", "text_missing", ""))
    excluded = difference is not None and bool(difference.low > 0 or difference.high < 0)
    clean = np.mean(list(fold_means(rows, "baseline", "intact", "").values()))
    noisy = np.mean(list(fold_means(rows, "baseline", "audio_noise_babble", 0).values()))
    return {
        "1": check("1", kept, share, rtol=1e-6,
                   hints=[(lambda a: a > 1.5, "a share: between 0 and 1, not a percentage"),
                          (noisy, "that is the UA itself: divide it by the clean (intact) UA"),
                          (noisy / clean, "divide fold by fold, then average over the folds")],
                   hint="`robustness.retention(rows, \"baseline\", \"audio_noise_babble\", 0)`, or "
                        "per fold: UA at 0 dB babble / intact UA, then the mean"),
        "2": check("2", excludes_zero, excluded,
                   hint="compute the paired interval with `robustness.paired_over_folds`; is 0 "
                        "between its low and high ends?"),
    }
