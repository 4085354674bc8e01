"""Writing the built-in corpus to disk, laid out exactly like the IEMOCAP release.

:func:`generate` writes the plan (:func:`data_prep.synthetic_plan.plan_corpus`) as
``<out>/IEMOCAP_full_release/`` (EmoEvaluation and transcription files, one 16 kHz wav per
labelled turn, synthesized by :mod:`data_prep._voice`, in worker processes for the big size), the
generator's intentions as ``<out>/ground_truth.csv``, and last the ``.complete`` marker holding the
settings.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import multiprocessing
import os
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile

from data_prep import _voice, _words
from data_prep._workers import end_with_parent
from data_prep.iemocap_format import (
    RELEASE_DIR,
    LabelLine,
    format_label_line,
    format_transcript_line,
)
from data_prep.synthetic_plan import WORDS_PER_SECOND, Turn, generation_params, plan_corpus
from emokit.config import CorpusConfig
from emokit.config import labels as labels_lib
from emokit.core.atomic import write_atomic
from emokit.core.lock import data_lock
from emokit.data.manifest import FIELDS

COMPLETE_MARKER = ".complete"  # written last: a corpus without it is (re)generated
AMBIGUOUS_BLEND = 0.5  # an ambiguous voice sits this far from the other emotion back to the true one
GROUND_TRUTH_FIELDS = FIELDS + ["text_emotion", "audio_emotion", "text_disagrees",
                                "audio_ambiguous"]


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
    root, turns, seed, snr_db, lexical, independent = job
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
        spoken = independent_sentence(t, seed) if independent else t.transcript
        wave = _voice.synthesize(spoken, n_samples, voices[t.speaker], prosody, snr_db, rng,
                                 lexical)
        soundfile.write(str(root / t.wav), wave, _voice.SAMPLE_RATE, subtype="PCM_16")
    return len(turns)


def independent_sentence(turn: Turn, seed: int) -> str:
    """What the voice reads under ``independent_voice``: filler words only, as many as a turn of
    its duration says at the neutral rate (x 0.8-1.2), drawn from ``(seed, turn.index)`` alone:
    nothing of the transcript's words or word count."""
    rng = np.random.default_rng([seed, 13, turn.index])
    n_words = int(np.clip(round(turn.duration * WORDS_PER_SECOND * rng.uniform(0.8, 1.2)), 1, 25))
    return " ".join(rng.choice(_words.FILLER, n_words))


def _write_ground_truth(path: Path, turns: list[Turn]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=GROUND_TRUTH_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for t in turns:
            if t.labelled:
                writer.writerow(dataclasses.asdict(t))


def generate(out_dir: str | Path, corpus: CorpusConfig | None = None,
             workers: int | None = None) -> Path:
    """Write the built-in corpus of ``corpus`` (size, seed, generator knobs; ``None``: the default
    ``mini`` of seed 0) under ``out_dir`` and return its release root
    (``.../IEMOCAP_full_release``).

    Anything already there is replaced. ``workers`` processes render the audio (default: one for
    ``mini``, every core for ``iemocap``). A ``.complete`` marker holding
    :func:`~data_prep.synthetic_plan.generation_params` is written last.
    """
    out = Path(out_dir).expanduser()
    with data_lock(out, "the corpus"):  # another process waits (re-entrant from ensure_corpus)
        return _generate(out, corpus or CorpusConfig(), workers)


def _generate(out: Path, corpus: CorpusConfig, workers: int | None) -> Path:
    root = out / RELEASE_DIR
    (out / COMPLETE_MARKER).unlink(missing_ok=True)
    if root.exists():
        shutil.rmtree(root)
    turns = plan_corpus(corpus)
    _write_text_files(root, turns)
    by_dialog: dict[str, list[Turn]] = defaultdict(list)
    for t in turns:
        if t.labelled:
            by_dialog[t.dialog].append(t)
    jobs = [(root, ts, corpus.synthetic_seed, corpus.snr_db, corpus.lexical_voice,
             corpus.independent_voice)
            for ts in by_dialog.values()]
    workers = workers or (1 if corpus.synthetic_size == "mini" else os.cpu_count() or 1)
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
    write_atomic(out / COMPLETE_MARKER, json.dumps(generation_params(corpus), sort_keys=True))
    return root
