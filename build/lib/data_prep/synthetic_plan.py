"""The plan of the built-in corpus: every turn's fields and what the generator intends, no audio.

:func:`plan_corpus` draws, from a seed, each turn of each dialog of each session (labelled and
``XX``): its id, speaker, label, times, transcript, dimensional ratings and rater lines, and which
emotion its words and its voice point to. The generator knobs of
:class:`~emokit.config.CorpusConfig` (:data:`GENERATOR_KNOBS`) shape it: ``text_disagreement``,
``audio_ambiguity``, ``cue_probability``, ``scripted_share`` and ``length_decorrelation`` here,
``snr_db`` and ``lexical_voice`` in the audio. Scripted dialogs perform one play per script name,
so their lines recur from session to session (:func:`script_name`).
:mod:`data_prep.synthetic_writer` turns the plan into files; :data:`SIZES` holds the counts and
durations of ``mini`` and ``iemocap``.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np

from data_prep import _voice, _words
from emokit.config import CorpusConfig
from emokit.config import labels as labels_lib

DEFAULT_TEXT_DISAGREEMENT = CorpusConfig.text_disagreement  # the knobs' defaults live in the config
DEFAULT_AUDIO_AMBIGUITY = CorpusConfig.audio_ambiguity
DEFAULT_SNR_DB = CorpusConfig.snr_db
#: The CorpusConfig fields that change the generated files. The first three were there from the
#: start; the others (:data:`LATER_KNOBS`) name the corpus folder and enter its completion marker
#: only when set away from their defaults, so a corpus generated before they existed stays current.
GENERATOR_KNOBS = ("text_disagreement", "audio_ambiguity", "snr_db", "cue_probability",
                   "scripted_share", "lexical_voice", "length_decorrelation", "independent_voice")
LATER_KNOBS = GENERATOR_KNOBS[3:]

WORDS_PER_SECOND = 2.2
XX_TURN_PROBABILITY = 0.04  # unlabelled turns (ids with XX), as in the release
# Of the scripted turns, the share that play a line written for their own emotion; the others play
# a line of another emotion's scene (actors vary). Words still follow the turn's text_emotion.
SCRIPT_EMOTION_RECURRENCE = 0.8
PERFORMANCE_SPREAD = 0.15  # a performed line lasts its script length times 1 +- this


@dataclass(frozen=True)
class Size:
    session_counts: tuple[int, ...]  # four-class utterances per session
    raw_counts: dict[str, int]  # four-class raw labels (hap and exc both count as happy)
    out_of_set: dict[str, int]  # labels outside the 4 classes
    duration: tuple[float, float, float]  # mean, min, max seconds
    dialogs: tuple[str, ...]  # dialog names, each recorded twice per session (Ses01F_, Ses01M_)


_IMPRO = tuple(f"impro0{i}" for i in range(1, 9))
_SCRIPT = ("script01_1", "script01_2", "script01_3", "script02_1", "script02_2", "script03_1",
           "script03_2")
SIZES = {
    "mini": Size((70, 70, 70, 70, 70), {"neu": 108, "hap": 38, "exc": 66, "ang": 70, "sad": 68},
                 {"fru": 8, "xxx": 10, "sur": 2, "fea": 1, "oth": 1, "dis": 1},
                 (2.2, 1.0, 4.0), ("impro01", "impro02", "script01_1")),
    "iemocap": Size((1085, 1023, 1151, 1031, 1241),
                    {"neu": 1708, "hap": 595, "exc": 1041, "ang": 1103, "sad": 1084},
                    {"fru": 185, "xxx": 251, "sur": 11, "fea": 4, "oth": 1, "dis": 1},
                    (4.5, 1.0, 20.0), _IMPRO + _SCRIPT),
}

#: The emotion an out-of-set label sounds and reads like (xxx: no agreement, any of the four).
_OUT_OF_SET_EMOTION = {"fru": "angry", "sur": "happy", "fea": "sad", "dis": "angry",
                       "oth": "neutral", "xxx": None}
_VAD_MEANS = {"neutral": (3.0, 2.5, 2.8), "happy": (4.0, 3.4, 3.1), "angry": (1.8, 3.9, 3.9),
              "sad": (1.8, 2.0, 2.1)}
_RATER_WORDS = {"neu": "Neutral", "hap": "Happiness", "exc": "Excited", "ang": "Anger",
                "sad": "Sadness", "fru": "Frustration", "sur": "Surprise", "fea": "Fear",
                "dis": "Disgust", "oth": "Other"}
CLASSES = labels_lib.class_names("4class")


@dataclass(frozen=True)
class Turn:
    """One planned turn: a manifest row's fields plus what the generator intended."""

    id: str
    session: int
    dialog: str
    speaker: str
    gender: str
    mode: str
    raw_label: str  # "" for unlabelled (XX) turns
    label: str
    start: float
    end: float
    valence: float
    arousal: float
    dominance: float
    transcript: str
    wav: str  # "" for unlabelled turns (the release has no sentence wav for them)
    duration: float
    sample_rate: int
    text_emotion: str  # the emotion the words point to ("" = none)
    audio_emotion: str  # the emotion the voice leans to
    text_disagrees: bool
    audio_ambiguous: bool
    intensity: float  # how strongly the voice carries audio_emotion (0 = neutral voice)
    raters: tuple[str, ...]  # the evaluator lines under the label line
    index: int  # seeds this turn's audio

    @property
    def labelled(self) -> bool:
        return bool(self.raw_label)


def plan_corpus(corpus: CorpusConfig | None = None) -> list[Turn]:
    """Every turn of ``corpus``'s built-in corpus (labelled and XX), in session, dialog and time
    order; no audio. ``None``: the default ``mini`` corpus of seed 0."""
    corpus = corpus or CorpusConfig()
    _check_knobs(corpus)
    spec = SIZES[corpus.synthetic_size]
    seed = corpus.synthetic_seed
    rng = np.random.default_rng(seed)
    four = rng.permutation([raw for raw, n in spec.raw_counts.items() for _ in range(n)])
    others = rng.permutation([raw for raw, n in spec.out_of_set.items() for _ in range(n)])
    scripts = {name: _write_script(spec, np.random.default_rng([seed, 13, i]), corpus)
               for i, name in enumerate(spec.dialogs) if name.startswith("script")}
    bounds = np.cumsum((0,) + spec.session_counts)
    other_split = np.array_split(others, len(spec.session_counts))
    turns: list[Turn] = []
    for s, (lo, hi) in enumerate(itertools.pairwise(bounds), start=1):
        session_labels = rng.permutation(np.concatenate([four[lo:hi], other_split[s - 1]]))
        dialogs = _dialog_names(s, spec.dialogs)
        which = _dialog_of_each_turn(session_labels, dialogs, corpus.scripted_share, rng)
        for d, dialog in enumerate(dialogs):
            turns += _plan_dialog(dialog, s, session_labels[which == d], spec, rng, corpus,
                                  first_index=len(turns), script=scripts.get(script_name(dialog)))
    return turns


def _check_knobs(corpus: CorpusConfig) -> None:
    if corpus.synthetic_size not in SIZES:
        raise ValueError(f"unknown size {corpus.synthetic_size!r}; choose one of {sorted(SIZES)}")
    for name in ("text_disagreement", "audio_ambiguity", "cue_probability", "scripted_share",
                 "length_decorrelation"):
        value = getattr(corpus, name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be a fraction in [0, 1], got {value}")


def later_knobs_set(corpus: CorpusConfig) -> dict:
    """The :data:`LATER_KNOBS` that ``corpus`` sets away from their defaults, by name."""
    return {name: getattr(corpus, name) for name in LATER_KNOBS
            if getattr(corpus, name) != getattr(CorpusConfig, name)}


def generation_params(corpus: CorpusConfig) -> dict:
    """What a corpus's completion marker records: size, seed and the generator knobs (the
    :data:`LATER_KNOBS` only where set away from their defaults)."""
    return {"size": corpus.synthetic_size, "seed": corpus.synthetic_seed,
            "text_disagreement": corpus.text_disagreement,
            "audio_ambiguity": corpus.audio_ambiguity, "snr_db": corpus.snr_db,
            **later_knobs_set(corpus)}


def _dialog_of_each_turn(labels: np.ndarray, dialogs: list[str], scripted_share: float | None,
                         rng) -> np.ndarray:
    """The index in ``dialogs`` of each of a session's turns `(len(labels),)`.

    ``scripted_share`` None: any dialog, uniformly. Otherwise the first ``round(share * n)`` of the
    four-class labels (already in random order), and as many of the out-of-set ones, go to the
    scripted dialogs, the others to the improvised ones, uniformly within each group.
    """
    if scripted_share is None:
        return rng.integers(0, len(dialogs), len(labels))
    in_four = np.array([labels_lib.to_class(str(raw)) is not None for raw in labels])
    scripted = np.zeros(len(labels), dtype=bool)
    for group in (np.flatnonzero(in_four), np.flatnonzero(~in_four)):
        scripted[group[:round(scripted_share * len(group))]] = True
    which = np.empty(len(labels), dtype=int)
    for mask, mode in ((scripted, "script"), (~scripted, "impro")):
        choices = np.array([d for d, name in enumerate(dialogs) if mode in name])
        which[mask] = choices[rng.integers(0, len(choices), int(mask.sum()))]
    return which


def _dialog_names(session: int, names: tuple[str, ...]) -> list[str]:
    """``Ses01F_impro01``, ``Ses01M_impro01``, ...; session 5's ``M`` script01_1 is ``..._1b``."""
    dialogs = []
    for prefix in "FM":
        for name in names:
            if session == 5 and prefix == "M" and name == "script01_1":
                name += "b"
            dialogs.append(f"Ses{session:02d}{prefix}_{name}")
    return dialogs


def script_name(dialog: str) -> str:
    """The play a dialog performs: ``Ses05M_script01_1b`` -> ``script01_1`` (improvised dialogs
    name their scene: ``Ses01F_impro01`` -> ``impro01``)."""
    name = dialog.split("_", 1)[1]
    return name[:-1] if name.startswith("script") and name.endswith("b") else name


@dataclass(frozen=True)
class ScriptLine:
    transcript: str
    seconds: float  # its length as written; each performance varies it (PERFORMANCE_SPREAD)


def _write_script(spec: Size, rng, corpus: CorpusConfig) -> dict:
    """One play: ``{(scene emotion, cue emotion or ""): [ScriptLine]}``, each pool about as many
    lines as one performance has turns of that kind, so a line recurs in every performance."""
    text_disagreement, cue_probability = corpus.text_disagreement, corpus.cue_probability
    per_performance = _turns_per_performance(spec, corpus.scripted_share)
    counts = {c: sum(n for raw, n in spec.raw_counts.items() if labels_lib.to_class(raw) == c)
              for c in CLASSES}
    script = {}
    for scene in CLASSES:
        share = counts[scene] / sum(counts.values())
        for cue in ("", *CLASSES):
            if not cue:
                p = 1 - cue_probability
            else:
                p = cue_probability * ((1 - text_disagreement) if cue == scene
                                       else text_disagreement / (len(CLASSES) - 1))
            script[scene, cue] = [_script_line(scene, cue, spec, rng, corpus.length_decorrelation)
                                  for _ in range(max(1, round(per_performance * share * p)))]
    return script


def _turns_per_performance(spec: Size, scripted_share: float | None) -> float:
    """How many turns one recording of a scripted dialog holds, on average."""
    turns = sum(spec.session_counts) + sum(spec.out_of_set.values())
    if scripted_share is None:  # every dialog gets as many
        return turns / (2 * len(spec.session_counts) * len(spec.dialogs))
    n_scripts = sum(name.startswith("script") for name in spec.dialogs)
    return turns * scripted_share / (2 * len(spec.session_counts) * n_scripts)


def _script_line(scene: str, cue: str, spec: Size, rng, length_decorrelation: float) -> ScriptLine:
    seconds = _duration(spec, rng)
    rate = _voice.EMOTION_PROSODY[scene].rate
    n_words = _word_count(seconds, rate, spec, rng, length_decorrelation)
    return ScriptLine(_transcript(n_words, cue, rng, has_cue=bool(cue)), seconds)


def _word_count(seconds: float, rate: float, spec: Size, rng, length_decorrelation: float) -> int:
    """How many words an utterance of ``seconds`` says at ``rate``: about ``WORDS_PER_SECOND``.

    With probability ``length_decorrelation`` the count follows an independent duration of the
    same distribution instead, so it keeps its distribution but stops following the utterance's
    length (the synthesized speech still fills the utterance: :func:`data_prep._voice.synthesize`
    stretches syllables and pauses). Pearson r(duration, word count) over mini's four-class turns,
    mean over seeds 0-4: 0.93 at 0, 0.42 at 0.5, -0.03 at 1; its scripted turns alone (few distinct
    lines, so noisier from seed to seed): 0.94, 0.35, -0.03.
    """
    if length_decorrelation and rng.random() < length_decorrelation:
        seconds = _duration(spec, rng)
    return int(np.clip(round(seconds * WORDS_PER_SECOND * rate * rng.uniform(0.8, 1.2)), 1, 25))


def _duration(spec: Size, rng) -> float:
    mean, lo, hi = spec.duration
    sigma = 0.55
    return float(np.clip(rng.lognormal(np.log(mean) - sigma**2 / 2, sigma), lo, hi))


def _plan_dialog(dialog, session, raw_labels, spec, rng, corpus, first_index, script=None):
    turns, counters, clock = [], {"F": 0, "M": 0, "XX": 0}, float(rng.uniform(1.0, 8.0))
    unlabelled = dataclasses.replace(corpus, text_disagreement=0.0, audio_ambiguity=0.0)
    for raw in raw_labels:
        if rng.random() < XX_TURN_PROBABILITY:
            turns.append(_plan_turn(dialog, session, "", spec, rng, unlabelled, clock, counters,
                                    first_index + len(turns), script))
            clock = turns[-1].end
        turns.append(_plan_turn(dialog, session, str(raw), spec, rng, corpus, clock, counters,
                                first_index + len(turns), script))
        clock = turns[-1].end
    return turns


def _plan_turn(dialog, session, raw, spec, rng, corpus, clock, counters, index,
               script=None) -> Turn:
    """One turn; a scripted dialog's turn (``script`` given) plays one of the script's lines."""
    gender = "F" if rng.random() < 0.5 else "M"
    if raw:
        uid = f"{dialog}_{gender}{counters[gender]:03d}"
        counters[gender] += 1
    else:
        uid = f"{dialog}_{gender}XX{counters['XX']}"
        counters["XX"] += 1
    emotion = labels_lib.to_class(raw) if raw else None
    emotion = emotion or _OUT_OF_SET_EMOTION.get(raw) or CLASSES[rng.integers(len(CLASSES))]
    text_emotion, text_disagrees = _maybe_other(emotion, corpus.text_disagreement, rng)
    audio_emotion, audio_ambiguous = _maybe_other(emotion, corpus.audio_ambiguity, rng)
    has_cue = bool(rng.random() < corpus.cue_probability)
    if script is None:
        seconds = _duration(spec, rng)
        rate = _voice.EMOTION_PROSODY[audio_emotion].rate
        n_words = _word_count(seconds, rate, spec, rng, corpus.length_decorrelation)
        transcript = _transcript(n_words, text_emotion, rng, has_cue)
    else:
        line = _performed_line(script, emotion, text_emotion if has_cue else "", rng)
        transcript = line.transcript
        seconds = float(np.clip(line.seconds * rng.uniform(1 - PERFORMANCE_SPREAD,
                                                           1 + PERFORMANCE_SPREAD),
                                *spec.duration[1:]))
    n_samples = round(seconds * _voice.SAMPLE_RATE)
    start = round(clock + float(rng.uniform(0.2, 1.5)), 4)
    vad, raters = _ratings(raw, emotion, rng) if raw else ((0.0, 0.0, 0.0), ())
    return Turn(
        id=uid, session=session, dialog=dialog, speaker=f"Ses{session:02d}{gender}", gender=gender,
        mode="impro" if "impro" in dialog else "script", raw_label=raw,
        label=(labels_lib.to_class(raw) or "") if raw else "",
        start=start, end=round(start + n_samples / _voice.SAMPLE_RATE, 4),
        valence=vad[0], arousal=vad[1], dominance=vad[2], transcript=transcript,
        wav=f"Session{session}/sentences/wav/{dialog}/{uid}.wav" if raw else "",
        duration=n_samples / _voice.SAMPLE_RATE, sample_rate=_voice.SAMPLE_RATE,
        text_emotion=text_emotion if has_cue else "", audio_emotion=audio_emotion,
        text_disagrees=text_disagrees and has_cue, audio_ambiguous=audio_ambiguous,
        intensity=float(rng.uniform(0.5, 1.3)), raters=raters, index=index,
    )


def _performed_line(script: dict, emotion: str, cue: str, rng) -> ScriptLine:
    """The line a scripted turn of ``emotion`` plays: one written for a scene of its own emotion
    (``SCRIPT_EMOTION_RECURRENCE``) or of another, whose words point to ``cue``."""
    scene, _ = _maybe_other(emotion, 1 - SCRIPT_EMOTION_RECURRENCE, rng)
    pool = script[scene, cue]
    return pool[rng.integers(len(pool))]


def _maybe_other(emotion: str, probability: float, rng) -> tuple[str, bool]:
    """``emotion``, or with ``probability`` another of the four classes (and True)."""
    if rng.random() < probability:
        others = [c for c in CLASSES if c != emotion]
        return others[rng.integers(len(others))], True
    return emotion, False


_FILLER = np.array(_words.FILLER)
_CUES = {emotion: np.array(words) for emotion, words in _words.CUES.items()}
_RATER_CODES = list(_RATER_WORDS)
_EVALUATORS = ["E1", "E2", "E3", "E4", "E5"]


def _transcript(n_words: int, emotion: str, rng, has_cue: bool) -> str:
    """A sentence of filler words, with ``has_cue`` a cue word or two of ``emotion``, maybe a
    non-speech token."""
    words = _FILLER[rng.integers(0, len(_FILLER), n_words)].tolist()
    if has_cue:
        n_cues = 1 + int(n_words > 4 and rng.random() < 0.4)
        cues = _CUES[emotion]
        for pos in rng.permutation(n_words)[:n_cues]:
            words[pos] = cues[rng.integers(len(cues))]
    words = ["I" + w[1:] if w == "i" or w.startswith("i'") else w for w in words]
    if rng.random() < 0.06:
        token = _words.NON_SPEECH[rng.integers(len(_words.NON_SPEECH))]
        words.insert(int(rng.integers(0, len(words) + 1)), token)
    if rng.random() < 0.2:
        end = "?"
    elif emotion in ("happy", "angry") and rng.random() < 0.3:
        end = "!"
    else:
        end = "."
    if not words[0].startswith("["):
        words[0] = words[0][0].upper() + words[0][1:]
    return " ".join(words) + end


def _ratings(raw: str, emotion: str, rng) -> tuple[tuple[float, float, float], tuple[str, ...]]:
    """Dimensional values (mean of three raters) and the evaluator lines of a labelled turn."""
    scores = np.clip(np.round(np.asarray(_VAD_MEANS[emotion]) + rng.normal(0, 0.7, (3, 3))), 1, 5)
    vad = tuple(round(float(v), 4) for v in scores.mean(axis=0))
    evaluators = [_EVALUATORS[i] for i in rng.permutation(len(_EVALUATORS))[:3]]
    if raw == "xxx":  # no agreement: three different opinions
        codes = [_RATER_CODES[i] for i in rng.permutation(len(_RATER_CODES))[:3]]
    else:
        codes = [raw, raw, _RATER_CODES[rng.integers(len(_RATER_CODES))]]
    lines = [f"C-{e}:\t{_RATER_WORDS[c]};\t()" for e, c in zip(evaluators, codes)]
    lines += [f"A-{e}:\tval {int(v)}; act {int(a)}; dom  {int(d)};\t()"
              for e, (v, a, d) in zip(evaluators, scores)]
    return vad, tuple(lines)
