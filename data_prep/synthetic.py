"""The built-in corpus: a synthetic release shaped exactly like IEMOCAP on disk.

    python -m data_prep.synthetic [--size mini|iemocap] [--seed N] [--out DIR]

IEMOCAP is licensed and cannot ship with the kit, so the kit generates a stand-in with the same
layout, id scheme and file formats (``Session1..5``, ``dialog/EmoEvaluation``,
``dialog/transcriptions``, ``sentences/wav``), written under ``<out>/IEMOCAP_full_release/``.
Every step after this one reads it exactly as it would read the real release.

Speech is synthesized in numpy (:mod:`data_prep._voice`): two voices per session (one female, one
male), syllables that follow the transcript's words, and emotion carried by prosody. Transcripts mix
neutral filler words with a few emotional cue words (:mod:`data_prep._words`). Both modalities are
made imperfect on purpose, so that fusing them helps:

- ``text_disagreement``: of the transcripts holding emotional cue words (about 70%; the others
  hold only filler words), the fraction whose cue words point to another emotion;
- ``audio_ambiguity``: the fraction whose voice leans towards another emotion;
- ``snr_db``: background noise level against neutral speech.

Scripted dialogs (``script01_1`` ...) are plays: as in IEMOCAP, every session performs the same
script, so its lines recur verbatim from session to session (and twice within a session, once per
``Ses..F_``/``Ses..M_`` recording), and a line mostly comes with the emotion it was written for
(``SCRIPT_EMOTION_RECURRENCE``; the actors vary the rest). Improvised dialogs get a fresh transcript
for every turn. So leave-one-session-out leaves scripted test transcripts in the training set, as
it does on the real corpus (:mod:`emokit.data.overlap` measures it).

Sizes: ``mini`` (350 four-class utterances of 1-4 s, seconds to generate; the default for the demo
and the tests) and ``iemocap`` (IEMOCAP's 5,531 four-class utterances with its class and session
counts and durations, about 7 h of audio; out-of-set labels at a tenth of the release's counts).
The same seed gives byte-identical files. What the generator intended (true class, speaker,
transcript, which modality was made to disagree) goes to ``<out>/ground_truth.csv``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import itertools
import json
import multiprocessing
import os
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from data_prep import _voice, _words
from data_prep._workers import end_with_parent
from data_prep.iemocap import parse_release
from data_prep.iemocap_format import (
    RELEASE_DIR,
    LabelLine,
    format_label_line,
    format_transcript_line,
)
from data_prep.manifest_source import read_source, write_source
from emokit.config import CorpusConfig
from emokit.config import labels as labels_lib
from emokit.core.atomic import storage_error, write_atomic
from emokit.core.cli import run_cli
from emokit.core.errors import CorruptFileError
from emokit.core.lock import data_lock
from emokit.core.paths import data_dir
from emokit.data.manifest import FIELDS, write_manifest

COMPLETE_MARKER = ".complete"  # written last: a corpus without it is (re)generated

DEFAULT_TEXT_DISAGREEMENT = CorpusConfig.text_disagreement  # the knobs' defaults live in the config
DEFAULT_AUDIO_AMBIGUITY = CorpusConfig.audio_ambiguity
DEFAULT_SNR_DB = CorpusConfig.snr_db
AMBIGUOUS_BLEND = 0.5  # an ambiguous voice sits this far from the other emotion back to the true one

CUE_PROBABILITY = 0.7  # share of transcripts holding emotional cue words at all
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


GROUND_TRUTH_FIELDS = FIELDS + ["text_emotion", "audio_emotion", "text_disagrees",
                                "audio_ambiguous"]


# ------------------------------------------------------------------------------------- planning


def plan_corpus(size: str = "mini", seed: int = 0,
                text_disagreement: float = DEFAULT_TEXT_DISAGREEMENT,
                audio_ambiguity: float = DEFAULT_AUDIO_AMBIGUITY) -> list[Turn]:
    """Every turn of the corpus (labelled and XX), in session, dialog and time order; no audio."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {sorted(SIZES)}")
    for name, value in (("text_disagreement", text_disagreement),
                        ("audio_ambiguity", audio_ambiguity)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be a fraction in [0, 1], got {value}")
    spec = SIZES[size]
    rng = np.random.default_rng(seed)
    four = rng.permutation([raw for raw, n in spec.raw_counts.items() for _ in range(n)])
    others = rng.permutation([raw for raw, n in spec.out_of_set.items() for _ in range(n)])
    scripts = {name: _write_script(spec, np.random.default_rng([seed, 13, i]), text_disagreement)
               for i, name in enumerate(spec.dialogs) if name.startswith("script")}
    bounds = np.cumsum((0,) + spec.session_counts)
    other_split = np.array_split(others, len(spec.session_counts))
    turns: list[Turn] = []
    for s, (lo, hi) in enumerate(itertools.pairwise(bounds), start=1):
        session_labels = rng.permutation(np.concatenate([four[lo:hi], other_split[s - 1]]))
        dialogs = _dialog_names(s, spec.dialogs)
        which = rng.integers(0, len(dialogs), len(session_labels))
        for d, dialog in enumerate(dialogs):
            turns += _plan_dialog(dialog, s, session_labels[which == d], spec, rng,
                                  text_disagreement, audio_ambiguity, first_index=len(turns),
                                  script=scripts.get(script_name(dialog)))
    return turns


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


def _write_script(spec: Size, rng, text_disagreement: float) -> dict:
    """One play: ``{(scene emotion, cue emotion or ""): [ScriptLine]}``, each pool about as many
    lines as one performance has turns of that kind, so a line recurs in every performance."""
    per_performance = ((sum(spec.session_counts) + sum(spec.out_of_set.values()))
                       / (2 * len(spec.session_counts) * len(spec.dialogs)))
    counts = {c: sum(n for raw, n in spec.raw_counts.items() if labels_lib.to_class(raw) == c)
              for c in CLASSES}
    script = {}
    for scene in CLASSES:
        share = counts[scene] / sum(counts.values())
        for cue in ("", *CLASSES):
            if not cue:
                p = 1 - CUE_PROBABILITY
            else:
                p = CUE_PROBABILITY * ((1 - text_disagreement) if cue == scene
                                       else text_disagreement / (len(CLASSES) - 1))
            script[scene, cue] = [_script_line(scene, cue, spec, rng)
                                  for _ in range(max(1, round(per_performance * share * p)))]
    return script


def _script_line(scene: str, cue: str, spec: Size, rng) -> ScriptLine:
    seconds = _duration(spec, rng)
    rate = _voice.EMOTION_PROSODY[scene].rate
    n_words = int(np.clip(round(seconds * WORDS_PER_SECOND * rate * rng.uniform(0.8, 1.2)), 1, 25))
    return ScriptLine(_transcript(n_words, cue, rng, has_cue=bool(cue)), seconds)


def _duration(spec: Size, rng) -> float:
    mean, lo, hi = spec.duration
    sigma = 0.55
    return float(np.clip(rng.lognormal(np.log(mean) - sigma**2 / 2, sigma), lo, hi))


def _plan_dialog(dialog, session, raw_labels, spec, rng, text_disagreement, audio_ambiguity,
                 first_index, script=None):
    turns, counters, clock = [], {"F": 0, "M": 0, "XX": 0}, float(rng.uniform(1.0, 8.0))
    for raw in raw_labels:
        if rng.random() < XX_TURN_PROBABILITY:
            turns.append(_plan_turn(dialog, session, "", spec, rng, 0.0, 0.0, clock, counters,
                                    first_index + len(turns), script))
            clock = turns[-1].end
        turns.append(_plan_turn(dialog, session, str(raw), spec, rng, text_disagreement,
                                audio_ambiguity, clock, counters, first_index + len(turns),
                                script))
        clock = turns[-1].end
    return turns


def _plan_turn(dialog, session, raw, spec, rng, text_disagreement, audio_ambiguity, clock,
               counters, index, script=None) -> Turn:
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
    text_emotion, text_disagrees = _maybe_other(emotion, text_disagreement, rng)
    audio_emotion, audio_ambiguous = _maybe_other(emotion, audio_ambiguity, rng)
    has_cue = bool(rng.random() < CUE_PROBABILITY)
    if script is None:
        seconds = _duration(spec, rng)
        rate = _voice.EMOTION_PROSODY[audio_emotion].rate
        n_words = int(np.clip(round(seconds * WORDS_PER_SECOND * rate * rng.uniform(0.8, 1.2)),
                              1, 25))
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


# ------------------------------------------------------------------------------------- writing


def _write_text_files(root: Path, turns: list[Turn]) -> None:
    by_dialog: dict[tuple[int, str], list[Turn]] = defaultdict(list)
    for turn in turns:
        by_dialog[(turn.session, turn.dialog)].append(turn)
    for (session, dialog), dialog_turns in by_dialog.items():
        base = root / f"Session{session}" / "dialog"
        (base / "EmoEvaluation").mkdir(parents=True, exist_ok=True)
        (base / "transcriptions").mkdir(parents=True, exist_ok=True)
        (root / f"Session{session}" / "sentences" / "wav" / dialog).mkdir(parents=True, exist_ok=True)
        blocks = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n"]
        for t in dialog_turns:
            if t.labelled:
                line = LabelLine(t.start, t.end, t.id, t.raw_label, t.valence, t.arousal,
                                 t.dominance)
                blocks.append("\n".join([format_label_line(line), *t.raters]) + "\n")
        (base / "EmoEvaluation" / f"{dialog}.txt").write_text("\n".join(blocks) + "\n")
        lines = [format_transcript_line(t.id, t.start, t.end, t.transcript) for t in dialog_turns]
        (base / "transcriptions" / f"{dialog}.txt").write_text("\n".join(lines) + "\n")


def _voices(seed: int) -> dict[str, _voice.Voice]:
    """The ten speakers' voices, ``{"Ses01F": Voice, ...}``."""
    return {f"Ses{s:02d}{g}": _voice.Voice.random(g, np.random.default_rng([seed, 11, s, i]))
            for s in range(1, 6) for i, g in enumerate("FM")}


def _render_dialog(job) -> int:
    """Synthesize and write the wavs of one dialog's labelled turns; returns how many."""
    root, turns, seed, snr_db = job
    voices = _voices(seed)
    for t in turns:
        rng = np.random.default_rng([seed, 7, t.index])
        neutral = _voice.EMOTION_PROSODY["neutral"]
        prosody = neutral.blend(_voice.EMOTION_PROSODY[t.audio_emotion], t.intensity)
        if t.audio_ambiguous:  # the voice leans to another emotion, keeping a trace of the true one
            true = labels_lib.to_class(t.raw_label) or t.audio_emotion
            prosody = prosody.blend(neutral.blend(_voice.EMOTION_PROSODY[true], t.intensity),
                                    AMBIGUOUS_BLEND)
        n_samples = round(t.duration * _voice.SAMPLE_RATE)
        wave = _voice.synthesize(t.transcript, n_samples, voices[t.speaker], prosody, snr_db, rng)
        soundfile.write(str(root / t.wav), wave, _voice.SAMPLE_RATE, subtype="PCM_16")
    return len(turns)


def _write_ground_truth(path: Path, turns: list[Turn]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=GROUND_TRUTH_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for t in turns:
            if t.labelled:
                writer.writerow(dataclasses.asdict(t))


def generate(out_dir: str | Path, size: str = "mini", seed: int = 0,
             text_disagreement: float = DEFAULT_TEXT_DISAGREEMENT,
             audio_ambiguity: float = DEFAULT_AUDIO_AMBIGUITY, snr_db: float = DEFAULT_SNR_DB,
             workers: int | None = None) -> Path:
    """Write the corpus under ``out_dir`` and return its release root (``.../IEMOCAP_full_release``).

    Anything already there is replaced. ``workers`` processes render the audio (default: one for
    ``mini``, every core for ``iemocap``). A ``.complete`` marker is written last.
    """
    out = Path(out_dir).expanduser()
    with data_lock(out, "the corpus"):  # another process waits (re-entrant from ensure_corpus)
        return _generate(out, size, seed, text_disagreement, audio_ambiguity, snr_db, workers)


def _generate(out: Path, size, seed, text_disagreement, audio_ambiguity, snr_db, workers) -> Path:
    root = out / RELEASE_DIR
    (out / COMPLETE_MARKER).unlink(missing_ok=True)
    if root.exists():
        shutil.rmtree(root)
    turns = plan_corpus(size, seed, text_disagreement, audio_ambiguity)
    _write_text_files(root, turns)
    by_dialog: dict[str, list[Turn]] = defaultdict(list)
    for t in turns:
        if t.labelled:
            by_dialog[t.dialog].append(t)
    jobs = [(root, ts, seed, snr_db) for ts in by_dialog.values()]
    workers = workers or (1 if size == "mini" else os.cpu_count() or 1)
    if workers > 1:
        # Forking after TensorFlow has started its threads can deadlock: then spawn fresh ones.
        method = "spawn" if "tensorflow" in sys.modules else "fork"
        with multiprocessing.get_context(method).Pool(workers, initializer=end_with_parent,
                                                      initargs=(os.getpid(),)) as pool:
            for _ in pool.imap_unordered(_render_dialog, jobs):
                pass
    else:
        for job in jobs:
            _render_dialog(job)
    _write_ground_truth(out / "ground_truth.csv", turns)
    params = {"size": size, "seed": seed, "text_disagreement": text_disagreement,
              "audio_ambiguity": audio_ambiguity, "snr_db": snr_db}
    write_atomic(out / COMPLETE_MARKER, json.dumps(params, sort_keys=True))
    return root


# ------------------------------------------------------------------------------ corpus on demand


def corpus_dir(corpus: CorpusConfig) -> Path:
    """Where the built-in corpus of these settings lives: ``data_dir()/synthetic_<size>_seed<N>``.

    Knobs away from their defaults add a suffix, so each variant keeps its own folder.
    """
    base = Path(corpus.data_dir).expanduser() if corpus.data_dir else data_dir()
    name = f"synthetic_{corpus.synthetic_size}_seed{corpus.synthetic_seed}"
    knobs = (corpus.text_disagreement, corpus.audio_ambiguity, corpus.snr_db)
    if knobs != (DEFAULT_TEXT_DISAGREEMENT, DEFAULT_AUDIO_AMBIGUITY, DEFAULT_SNR_DB):
        name += "_text{:g}_audio{:g}_snr{:g}".format(*knobs)
    return base / name


def _manifest_is_current(manifest: Path, root: Path, class_set: str) -> bool:
    if not manifest.exists():
        return False
    try:
        source = read_source(manifest)
    except CorruptFileError:
        return False  # a damaged record of our own: the manifest is parsed again
    return source == {"root": str(root), "class_set": class_set}


def _marker_params(marker: Path) -> dict | None:
    """The settings a finished corpus was generated with; ``None`` when the marker is missing or
    damaged (the corpus is then generated again)."""
    try:
        return json.loads(marker.read_text())
    except (OSError, ValueError):
        return None


def ensure_corpus(corpus: CorpusConfig) -> Path:
    """The manifest.csv of the configured corpus, generating/parsing what is not there yet.

    ``corpus.root`` set: that release is parsed into ``data_dir()/iemocap/manifest.csv``.
    Otherwise the built-in corpus is generated into :func:`corpus_dir` (once: a corpus without its
    completion marker, e.g. from a killed run, is generated again) and parsed next to it.
    """
    if corpus.root:
        root = Path(corpus.root).expanduser().resolve()
        base = Path(corpus.data_dir).expanduser() if corpus.data_dir else data_dir()
        out = base / "iemocap"
        manifest = out / "manifest.csv"
        params = None
    else:
        out = corpus_dir(corpus)
        root = (out / RELEASE_DIR).resolve()
        manifest = out / "manifest.csv"
        params = {"size": corpus.synthetic_size, "seed": corpus.synthetic_seed,
                  "text_disagreement": corpus.text_disagreement,
                  "audio_ambiguity": corpus.audio_ambiguity, "snr_db": corpus.snr_db}
    marker = out / COMPLETE_MARKER

    def ready() -> bool:
        return (params is None or _marker_params(marker) == params) and \
            _manifest_is_current(manifest, root, corpus.class_set)

    if ready():  # nothing to write: no lock needed (a read-only data folder works)
        return manifest
    try:
        with data_lock(out, "the corpus"):  # a second process waits instead of reading half
            if params is not None and _marker_params(marker) != params:
                generate(out, corpus.synthetic_size, corpus.synthetic_seed,
                         corpus.text_disagreement, corpus.audio_ambiguity, corpus.snr_db)
                manifest.unlink(missing_ok=True)
            if not _manifest_is_current(manifest, root, corpus.class_set):
                write_manifest(parse_release(root, corpus.class_set), manifest)
                write_source(manifest, root, corpus.class_set)
    except OSError as e:
        raise storage_error(e, out, "the corpus and its manifest") or e from None
    return manifest


def release_root(manifest_path: str | Path) -> Path:
    """The release folder that a manifest's ``wav`` paths are relative to."""
    manifest = Path(manifest_path)
    source = read_source(manifest)
    if source is not None:
        return Path(source["root"])
    root = manifest.parent / RELEASE_DIR
    if root.is_dir():
        return root
    raise FileNotFoundError(
        f"cannot tell which release {manifest} belongs to: no {manifest.stem}.source.json next "
        "to it and no "
        f"{RELEASE_DIR} folder beside it; rebuild it with emokit's ensure_corpus or "
        "`python -m data_prep.iemocap`"
    )


def modality_accuracies(manifest_path: str | Path) -> dict[str, float]:
    """How well each modality predicts the 4 classes on its own and fused: ``{"audio", "text",
    "fused"}`` leave-one-session-out accuracies of logistic regression on MFCC statistics and a bag
    of words (see :mod:`data_prep._modality_check`). A check of the corpus, not a model of emokit.
    """
    from data_prep._modality_check import modality_accuracies as check

    return check(manifest_path, release_root(manifest_path))


def main(argv=None) -> int:
    """The command line; returns the exit status (0 done, 1 bad data, 2 usage)."""
    return run_cli(_main, argv)


def _main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="mini", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None,
                        help="output folder (default: data_dir()/synthetic_<size>_seed<seed>)")
    parser.add_argument("--text-disagreement", type=float, default=DEFAULT_TEXT_DISAGREEMENT)
    parser.add_argument("--audio-ambiguity", type=float, default=DEFAULT_AUDIO_AMBIGUITY)
    parser.add_argument("--snr-db", type=float, default=DEFAULT_SNR_DB)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    corpus = CorpusConfig(synthetic_size=args.size, synthetic_seed=args.seed,
                          text_disagreement=args.text_disagreement,
                          audio_ambiguity=args.audio_ambiguity, snr_db=args.snr_db)
    from emokit.config import ExperimentConfig
    from emokit.config.validation import validate_config

    validate_config(ExperimentConfig(corpus=corpus), "the command line")
    out = Path(args.out) if args.out else corpus_dir(corpus)
    began = time.perf_counter()
    root = generate(out, args.size, args.seed, args.text_disagreement, args.audio_ambiguity,
                    args.snr_db, args.workers)
    took = time.perf_counter() - began
    rows = parse_release(root)
    manifest = write_manifest(rows, out / "manifest.csv")
    write_source(manifest, root.resolve(), "4class")
    from data_prep.iemocap import count_table

    print(count_table(rows))
    hours = sum(r.duration for r in rows) / 3600
    print(f"generated {root} ({hours:.2f} h of audio) in {took:.1f} s; manifest: {manifest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
