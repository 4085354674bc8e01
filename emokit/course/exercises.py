"""The course notebooks' exercises: one checker per notebook, ``notebook00`` ... ``notebook10``
(06's and 08's live in :mod:`emokit.course.statistics_exercises`, 09's in
:mod:`emokit.course.pretrained_exercises`, 10's in :mod:`emokit.course.exercises_gpu`).

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

from emokit.course.checking import check, check_choice, is_close, is_single_number, is_unanswered
from emokit.course.exercises_gpu import notebook10
from emokit.course.model_answers import gender_model_problem
from emokit.course.pretrained_exercises import notebook09
from emokit.course.statistics_exercises import notebook06, notebook08

__all__ = ["notebook00", "notebook01", "notebook02", "notebook03", "notebook04", "notebook05",
           "notebook06", "notebook07", "notebook08", "notebook09", "notebook10"]


# Exercise 00-1's options, as its question lists them: what a config has, next to the CPU's
ACCELERATOR_OPTIONS = {
    "a": ("mixed precision", lambda c, cpu: c.train.mixed_precision),
    "b": ("XLA", lambda c, cpu: c.train.xla),
    "c": ("MirroredStrategy", lambda c, cpu: c.train.distribute),
    "d": ("a batch 8 times the CPU's",
          lambda c, cpu: c.pipeline.batch_size == 8 * cpu.pipeline.batch_size),
    "e": ("a learning rate 4 times the CPU's",
          lambda c, cpu: math.isclose(c.train.learning_rate, 4 * cpu.train.learning_rate)),
}


def notebook00(answer_1, answer_2) -> dict[str, str]:
    """00 getting started: what ``use_accelerator`` changes. ``answer_1``: the letter of the one
    :data:`ACCELERATOR_OPTIONS` a two-GPU config has and a one-GPU config lacks."""
    import dataclasses

    from emokit.config import ExperimentConfig
    from emokit.training.runtime import use_accelerator

    cpu = ExperimentConfig()
    one, two = (use_accelerator(cpu, gpu_count=n) for n in (1, 2))
    right = [k for k, (_, has) in ACCELERATOR_OPTIONS.items()
             if has(two, cpu) and not has(one, cpu)]
    one_gpu_too = "one GPU has it too: which setting differs between the one- and two-GPU configs?"
    small = ExperimentConfig(pipeline=dataclasses.replace(cpu.pipeline, batch_size=16))
    batch = use_accelerator(small, gpu_count=1).pipeline.batch_size
    return {
        "1": check_choice("1", answer_1, right[0] if len(right) == 1 else "?", "abcde",
                          hints=[(k, one_gpu_too) for k, (_, has) in ACCELERATOR_OPTIONS.items()
                                 if has(one, cpu)]
                          + [("b", "XLA stays off on any GPU (section 3 says why)"),
                             ("d", ("the batch grows by the same factor on one GPU or two: "
                                    "compare `pipeline.batch_size` of the two configs")),
                             ("e", ("compare `train.learning_rate` of the two configs with the "
                                    "CPU's"))],
                          hint="build the one-GPU and the two-GPU configs and compare them"),
        "2": check("2", answer_2, batch,
                   hints=[(16, "that is the batch you started from: a GPU changes it"),
                          (batch // 16, "that is the factor: the exercise asks for the batch size"),
                          (2 * batch, ("the batch grows by the same factor on one GPU or two: read "
                                       "`pipeline.batch_size` of the one-GPU config"))]),
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
                   hints=[(lambda a: is_close(a, 100 * len(tagged) / len(rows), rtol=1e-6,
                                              atol=0.005),
                           "that is a percentage: give a fraction between 0 and 1"),
                          (lambda a: a > 1, "a fraction lies between 0 and 1"),
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
    rate_1, rate_2 = (oov_rate(test_tokens, Vocabulary.build(train_tokens, n)) for n in (1, 2))
    speaker_fold = next(f for f in make_folds(utterances, "speaker") if f.test_speakers == ("Ses03M",))
    return {
        "1": check("1", answer_1, tokenize("[BREATHING] Well -- I'm NOT going, uh-huh."),
                   hints=[(lambda a: any("breathing" in t.lower() for t in a),
                           "annotations in square brackets are not words"),
                          (lambda a: any(t != t.lower() for t in a), "tokens are lowercased")]),
        "2": check("2", answer_2, speaker_fold.val_speakers,
                   hints=[(lambda a: isinstance(a, str), "`val_speakers` is a tuple of names"),
                          (speaker_fold.test_speakers, "that speaker is tested, not validating")]),
        "3": check("3", answer_3, rate_2, factors=(100,),
                   hints=[(lambda a: is_close(a, 100 * rate_2, rtol=1e-6, atol=0.005),
                           "that is a percentage: give the rate as a fraction between 0 and 1"),
                          (lambda a: is_close(a, rate_1, rtol=1e-6, atol=5e-5)
                           or is_close(a, 100 * rate_1, rtol=1e-6, atol=0.005),
                           "that is the rate with min_count=1 (printed above as a percentage)")]),
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
        "1": check("1", answer_1, probabilities[top], **close, factors=(100,),
                   hints=[(lambda a: isinstance(a, str), "a probability, not a class name"),
                          (lambda a: is_close(a, 100 * probabilities[top], rtol=0, atol=0.06),
                           ("that is a percentage: give the probability as a fraction between 0 "
                            "and 1")),
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
