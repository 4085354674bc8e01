"""The course notebooks' exercises: one checker per notebook, ``notebook00`` ... ``notebook09``
(09's in :mod:`emokit.course.pretrained_exercises`).

Each takes the student's answers and the notebook objects the answers come from, works the right
answers out itself (so they appear in no notebook) and prints one line per exercise through
:func:`emokit.course.checking.check`, returning ``{exercise: status}``. A notebook's check cell
calls it as

    from emokit.course import exercises
    exercises.notebook05(instance_targets, n_positive, pair_term, model=model, inputs=inputs,
                         labels=labels)

and :mod:`emokit.course.grade` runs the source notebook's call in its reference kernel (the solutions,
run once by the grader) on a submission's answers, passed out of its kernel as plain data.
The reference solutions are in notebooks/solutions/.
"""

from __future__ import annotations

import math

import numpy as np

from emokit.course.checking import check, is_close, is_single_number, is_unanswered
from emokit.course.model_answers import gender_model_problem
from emokit.course.pretrained_exercises import notebook09  # noqa: F401  (exercises.notebook09)


def notebook00(answer_1, answer_2) -> dict[str, str]:
    """00 getting started: what ``use_accelerator`` changes."""
    import dataclasses

    from emokit.config import ExperimentConfig
    from emokit.training.runtime import use_accelerator

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

    speaker = "Ses04M"  # its count differs from Ses04F's, its session's and its parsed rows'
    partner = speaker[:-1] + ("F" if speaker.endswith("M") else "M")
    tagged = [r for r in rows if re.search(r"\[[A-Z]+\]", r.transcript)]
    tagged_labelled = [r for r in labelled if re.search(r"\[[A-Z]+\]", r.transcript)]
    text_away = [t for t in truth if t["text_emotion"] not in ("", t["label"])]
    audio_away = [t for t in truth if t["audio_emotion"] != t["label"]]
    both_away = [t for t in text_away if t["audio_emotion"] != t["label"]]
    either_away = [t for t in truth if t["text_emotion"] not in ("", t["label"])
                   or t["audio_emotion"] != t["label"]]
    return {
        "1": check("1", answer_1, sum(r.speaker == speaker for r in labelled),
                   hints=[(sum(r.speaker[:5] == speaker[:5] for r in labelled),
                           f"that counts both speakers of session {speaker[4]}: only {speaker}"),
                          (sum(r.speaker == partner for r in labelled),
                           f"that is {partner}: the last letter is the speaker's gender"),
                          (sum(r.speaker == speaker for r in rows),
                           "that counts every parsed row: keep only the 4-class (labelled) ones")]),
        "2": check("2", answer_2, len(tagged) / len(rows),
                   hints=[(lambda a: a > 1, "a fraction lies between 0 and 1"),
                          (len(tagged_labelled) / len(labelled),
                           ("that is over the 4-class rows only: the exercise counts every row "
                           "of `rows`"))],
                   factors=(100,),
                   hint="over all rows of `rows`, count the transcripts holding a [TOKEN]"),
        "3": check("3", answer_3, len(both_away),
                   hints=[(len(text_away), ("that counts the words pointing away: the voice must "
                                           "point away too")),
                          (len(audio_away), ("that counts the voices pointing away: the words must "
                                            "point away too")),
                          (len(either_away), "that counts text *or* voice away: both must be")]),
    }


def notebook02(answer_1, answer_2, answer_3, *, features, train_ids, speakers, config) -> dict[str, str]:
    """02 audio features: frames, dims and normalization. ``answer_3``: how far from 0 a
    ``"global"`` normalizer leaves the test speakers' frames (``features`` ids not in
    ``train_ids``)."""
    import dataclasses

    from emokit.data.features import feature_dim, frame_count
    from emokit.data.normalization import FeatureNormalizer

    samples = int(3.2 * config.sample_rate)
    hop = round(config.sample_rate * config.hop_ms / 1000)
    window = round(config.sample_rate * config.win_ms / 1000)
    train = set(train_ids)
    test_ids = [u for u in features if u not in train]

    def largest_mean(normalizer, ids):
        pooled = np.concatenate([normalizer.transform(u, features[u]) for u in ids])
        return float(np.abs(pooled.mean(axis=0)).max())

    global_norm = FeatureNormalizer.fit(features, train_ids, speakers, "global")
    expected_3 = largest_mean(global_norm, test_ids)
    close = {"rtol": 1e-3, "atol": 1e-4}
    return {
        "1": check("1", answer_1, frame_count(samples, config),
                   hints=[(frame_count(samples, config) - 1, "a frame starts at sample 0 too"),
                          (1 + (samples - window) // hop,
                           ("that is uncentred framing: emokit centres frame i on sample i * hop "
                           "(the signal is padded), so no window is lost at the ends"))]),
        "2": check("2", answer_2, feature_dim(dataclasses.replace(config, n_mfcc=20)),
                   hints=[(20, "the MFCCs come with their deltas and delta-deltas, and prosody"),
                          (60, "and the prosody dims?")]),
        "3": check("3", answer_3, expected_3, **close,
                   hints=[(lambda a: abs(a) < 1e-3, ("that is what the training frames give (or a "
                           "speaker normalizer, which centres every speaker): take the test "
                           "speakers' frames through the 'global' normalizer")),
                          (lambda a: is_close(a, largest_mean(
                              FeatureNormalizer.fit(features, list(features), speakers, "global"),
                              test_ids), **close),
                           "fit the normalizer on `train_ids` only: the test speakers are new"),
                          (lambda a: is_close(a, largest_mean(FeatureNormalizer("none"), test_ids),
                                              **close),
                           "those are the raw frames: normalize them first")],
                   hint="which frames go through which normalizer? The mean is taken per "
                        "dim over the pooled frames"),
    }


def notebook03(answer_1, answer_2, answer_3, *, utterances, tokens, fold) -> dict[str, str]:
    """03 text features: tokens, folds and vocabularies."""
    from emokit.data.folds import make_folds
    from emokit.data.text import Vocabulary, oov_rate, tokenize

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


FUSED_LATENT_DIM = 24  # exercise 04-1's latent_dim: unlike the presets', not a GRU's width


def notebook04(fused_width, my_ua, saved, *, baseline, results, data, config) -> dict[str, str]:
    """04 fusion baseline: the fused width at ``latent_dim=24``, UA from a confusion matrix,
    frozen embeddings. ``my_ua``'s key is worked out from the confusion matrix itself."""
    import dataclasses

    from emokit.model.emotion_model import build_model

    def trainable(train_embeddings: bool) -> int:
        cfg = dataclasses.replace(config.model, modalities="text", train_embeddings=train_embeddings)
        model = build_model(cfg, data.feature_dim, len(data.vocab), data.num_classes,
                            embedding_matrix=data.embedding_matrix, seed=0)
        return sum(int(np.prod(v.shape)) for v in model.variables_to_train())

    m, latent_dim = config.model, FUSED_LATENT_DIM
    code = np.zeros((1, latent_dim), "float32")
    gru_widths = {m.text_rnn_units + latent_dim, 2 * m.text_rnn_units, 2 * m.audio_rnn_units,
                  m.audio_rnn_units + m.text_rnn_units} - {2 * latent_dim}
    confusion = np.asarray(results["fused"]["confusion"], dtype=float)
    counts = confusion.sum(axis=1)
    recalls = np.diag(confusion) / np.maximum(counts, 1)
    ua = float(np.mean(recalls))
    printed = 5e-4 + 1e-9  # section 6 prints UA to 3 decimals: a value copied from it is right
    return {
        "1": check("1", fused_width, int(baseline.fusion([code, code]).shape[-1]),
                   hints=[(latent_dim, "the fused vector holds both codes"),
                          (2 * m.latent_dim, (f"that is the preset's latent_dim: the exercise's "
                                             f"model has latent_dim={latent_dim}")),
                          (lambda a: a in gru_widths, ("those are GRU widths: each encoder "
                                                      "projects its GRU state to latent_dim"))]),
        "2": check("2", my_ua, ua, rtol=0, atol=printed, factors=(100,),
                   hints=[(np.trace(confusion) / confusion.sum(),
                           "that is WA (accuracy): UA averages the per-class recalls"),
                          (np.mean(np.diag(confusion) / np.maximum(confusion.sum(axis=0), 1)),
                           "rows are the true classes: divide by the row sums"),
                          (lambda a: a > 1 and math.isclose(a, np.mean(np.diag(confusion))),
                           ("those are counts of right answers: divide each by its class's "
                           "number of utterances (a recall lies between 0 and 1)")),
                          (float(np.sum(recalls)), "that sums the recalls: UA is their mean"),
                          (lambda a: is_close(a, 100 * ua, rtol=0, atol=100 * printed),
                           "that is a percentage: give UA as a fraction between 0 and 1"),
                          (lambda a: is_close(a, ua, rtol=0, atol=5e-3 + 1e-9),
                           ("close, but rounded too far: give it to 3 decimals as printed, or "
                            "compute it with numpy"))]),
        "3": check("3", saved, trainable(True) - trainable(False),
                   hints=[(lambda a: a < 0, "the frozen model has fewer: subtract the other way"),
                          (0, ("count_params() counts every weight, frozen ones too: compare "
                               "the trainable ones (`model.trainable_weights`)"))],
                   hint="which weights stop training when the word vectors are frozen?"),
    }


def notebook05(instance_targets, n_positive, pair_term, *, model, inputs, labels,
               before_step=None) -> dict[str, str]:
    """05 contrastive regularization: pair targets and what the pair loss adds to the objective
    of ``model`` (a regularized model, ``contrastive_weight > 0``) on one batch. ``before_step``:
    section 4's ``compute_losses`` on that batch before its Adam step (the numbers it prints); a
    pair term worked out from them, also from the pair loss as printed (4 decimals), is right."""
    from emokit.model.pairs import pair_targets

    eye = pair_targets(np.array([0, 1, 2]), "instance").numpy()
    label_targets = pair_targets(np.array([2, 2, 1, 2]), "label").numpy()
    same = int(label_targets.sum())
    n = len(label_targets)
    out = {key: float(value) for key, value in model.compute_losses(inputs, labels).items()
           if key != "logits"}
    weight = float(model.contrastive_weight)
    close = {"rtol": 1e-4, "atol": 1e-6}

    def near(value):
        return lambda a: is_close(a, value, **close)

    # the pair loss L as section 4 printed it (before its Adam step changed the model)
    printed = float(before_step["disc_loss"]) if before_step is not None else math.nan

    def from_printed(a, factor=weight):  # ``factor * L``, L copied to 4 decimals
        return is_close(a, factor * printed, rtol=1e-4, atol=factor * 5e-5 + 1e-6)

    def right(a):
        return near(out.get("pair_term", 0.0))(a) or from_printed(a)

    return {
        "1": check("1", instance_targets, eye,
                   hints=[(np.ones((3, 3)), "with instance pairing only (i, i) pairs are the same"),
                          (1 - eye, ("1 marks a positive pair (the same utterance): yours marks "
                                    "the negatives"))]),
        "2": check("2", n_positive, same,
                   hints=[(same - 1, "the utterance labelled 1 pairs with itself too"),
                          (n, "label pairing: every same-label pair counts, not only (i, i)"),
                          ((same + n) // 2, ("the grid counts (audio i, text j) and (audio j, "
                                            "text i) as two pairs: count ordered pairs")),
                          ((same - n) // 2, "ordered pairs, and (i, i) pairs count too"),
                          (same - n, "the (i, i) pairs count too")]),
        "3": check("3", pair_term, accept=right,
                   hints=[(lambda a: not is_single_number(a), "expected a number (a float)"),
                          (lambda a: near(out.get("disc_loss", math.nan))(a)
                           or from_printed(a, 1.0),
                           ("that is the pair loss L itself: it enters the objective weighted by "
                           "`contrastive_weight`")),
                          (near(0.0), f"that is the baseline: this model's weight is {weight}"),
                          (near(out["loss"]), ("that is the whole objective: subtract the "
                                              "cross-entropy")),
                          (near(out["ce"]), "that is the cross-entropy")],
                   hint="the objective of section 4 on this batch: what does it hold besides "
                        "the cross-entropy?"),
    }


def notebook06(answer_1, answer_2, ci, excludes_zero, below_005, *, lambda_rows,
               paper_diffs) -> dict[str, str]:
    """06 evaluation: the fold as the unit, the optimism of choosing a weight on the test folds,
    and reading a paired t-interval (against the percentile bootstrap)."""
    from emokit.config.systems import is_selected
    from emokit.evaluation.fold_statistics import bootstrap_ci, paired_t_test

    candidates = [r for r in lambda_rows
                  if r.system.startswith("contrastive") and not is_selected(r.system)]
    selected = next(r for r in lambda_rows if is_selected(r.system))
    best = max(candidates, key=lambda row: row.ua[0])
    optimism = 100 * (best.ua[0] - selected.ua[0])
    diffs = np.asarray(paper_diffs, dtype=float)
    test = paired_t_test(diffs)
    interval = (test.ci_low, test.ci_high)
    z_half = 1.96 * diffs.std(ddof=1) / math.sqrt(len(diffs))

    def near_pair(pair, tolerance=0.05):
        return lambda a: all(abs(float(x) - y) <= tolerance for x, y in zip(a, pair, strict=True))

    return {
        "1": check("1", answer_1, 5,
                   hints=[(15, ("3 seeds of a fold share its test speakers: they are averaged "
                               "within the fold, not counted as pairs")),
                          (3, "the pairs are not the seeds")],
                   hint="how many test sessions does leave-one-session-out have?"),
        "2": check("2", answer_2, optimism, atol=0.11,
                   hints=[(-optimism, "best-on-test minus selected, not the other way round"),
                          (lambda a: abs(a - optimism / 100) < 1e-3, "in points, not fractions"),
                          (lambda a: a < 0, ("the best-on-test row is at least as good on test "
                                            "as the row it is compared with here"))],
                   hint="compare `row.ua[0]` of the contrastive weights (not the `-selected` "
                        "row, not the baseline) with the `-selected` row's"),
        "3": check("3", ci, interval, atol=0.01,
                   hints=[(lambda a: len(a) != 2, "an interval is two numbers: (low, high)"),
                          (lambda a: float(a[0]) > float(a[1]), "low comes first"),
                          (near_pair([x / 100 for x in interval], 1e-4),
                           "in points, as the differences are given"),
                          (near_pair(bootstrap_ci(diffs, seed=0), 0.3),
                           ("that is a percentile bootstrap, too narrow with 5 folds: the "
                            "report's interval comes from the paired t-test")),
                          (near_pair(np.percentile(diffs, [2.5, 97.5])),
                           ("that is the spread of the differences themselves: the interval is "
                            "for their *mean*")),
                          (near_pair((diffs.mean() - z_half, diffs.mean() + z_half)),
                           ("that uses the normal quantile 1.96: with 5 folds the t distribution "
                            "has 4 degrees of freedom"))],
                   hint="the mean difference plus and minus the t quantile (two-sided 95%, "
                        "n - 1 degrees of freedom) times the standard error of the mean, in "
                        "points"),
        "4": check("4", excludes_zero, bool(interval[0] > 0 or interval[1] < 0),
                   hint="is 0 inside the interval?"),
        "5": check("5", below_005, bool(test.p_value < 0.05),
                   hint="the t-test and its interval agree: does the interval hold 0?"),
    }


def notebook07(answer_1, answer_2, answer_3, *, model, data, gated,
               probabilities) -> dict[str, str]:
    """07 reuse emokit's layers: how sure ``emokit.predict`` is (``probabilities``, its dict for
    ``test_row``, the first test utterance), a layer's weights, a model with a ``gender`` input
    whose output must depend on ``gender`` and on the codes."""
    from emokit.training.forward import predict_dataset

    latent = gated.get_layer("gate").units
    top = max(probabilities, key=probabilities.get)
    labels, pipeline_probs = predict_dataset(model, data.test)
    true_class = data.class_names[int(labels[0])]
    not_predicts = ("that is the model's probability on the pipeline's features; emokit.predict "
                    "normalizes a new speaker with the training fold's statistics, so it differs: "
                    "use what emokit.predict says")
    close = {"rtol": 1e-4, "atol": 6e-4}  # a probability copied from the printed dict is right
    batch = next(iter(data.test))[0]
    problem = "" if is_unanswered(answer_3) else gender_model_problem(
        answer_3, batch, data.num_classes)
    return {
        "1": check("1", answer_1, probabilities[top], **close,
                   hints=[(lambda a: isinstance(a, str), "a probability, not a class name"),
                          (lambda a: not 0 <= float(a) <= 1, "a probability lies between 0 and 1"),
                          (float(pipeline_probs[0].max()), not_predicts),
                          (probabilities[true_class], ("that is the probability of the true class: "
                                                      "emokit.predict picks another one")),
                          (1 / data.num_classes, "that is chance")],
                   hint="read it from `probabilities`, emokit.predict's dict for test_row"),
        "2": check("2", answer_2, gated.get_layer("gate").count_params(),
                   hints=[(2 * latent * latent, "a dense layer has a bias per output too"),
                          (latent * latent + latent, "its input is both codes, concatenated"),
                          (lambda a: a in (gated.count_params(), model.count_params()),
                           ("that counts the whole model: the exercise asks for the weights of "
                            "the gate layer alone"))]),
        "3": check("3", answer_3, accept=lambda a: not problem, hint=problem),
    }


def notebook08(kept, excludes_zero, *, rows, regularized) -> dict[str, str]:
    """08 robustness: the share of its clean UA the baseline keeps under 0 dB babble, and whether
    the regularized system's paired interval under ``text_missing`` excludes 0."""
    from emokit.evaluation.robustness_report import fold_means, paired_over_folds, retention

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
                   hint="per fold, the UA under the condition divided by the intact UA of the "
                        "same fold; then the mean over the folds"),
        "2": check("2", excludes_zero, excluded,
                   hint="pair the two systems fold by fold under that condition: does the "
                        "95% t-interval of the mean difference hold 0?"),
    }
