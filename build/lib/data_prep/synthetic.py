"""The built-in corpus: a synthetic release shaped exactly like IEMOCAP on disk.

    python -m data_prep.synthetic [--size mini|iemocap] [--seed N] [--out DIR] [knobs]

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
- ``snr_db``: background noise level against neutral speech;
- ``cue_probability``: the share of transcripts holding cue words at all (0.7);
- ``scripted_share``: the share of each session's four-class turns played in scripted dialogs
  (``None``: the size's own dialog mix, a third on ``mini``);
- ``lexical_voice``: every word gets one fixed pronunciation
  (:func:`data_prep._voice.pronunciation`), so the audio carries which words were said; off,
  syllables get random vowels and the audio carries only how many words and how long;
- ``length_decorrelation``: how far the word count stops following the utterance's duration
  (r(duration, words) over ``mini``'s four-class turns: 0.93 at 0, 0.42 at 0.5, -0.03 at 1).

All of them live in :class:`~emokit.config.CorpusConfig`; at their defaults the corpus is the one
generated before the last four existed, byte for byte.

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

This module gives the rest of emokit the corpus on demand (:func:`ensure_corpus`,
:func:`release_root`, :func:`corpus_dir`) and runs the command line. Its pieces:
:mod:`data_prep.synthetic_plan` (every turn planned from the seed and the knobs, no audio) and
:mod:`data_prep.synthetic_writer` (the plan written to disk as a release,
:func:`~data_prep.synthetic_writer.generate`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from data_prep.iemocap import parse_release
from data_prep.iemocap_format import RELEASE_DIR
from data_prep.manifest_source import read_source, write_source
from data_prep.synthetic_plan import (
    DEFAULT_AUDIO_AMBIGUITY,
    DEFAULT_SNR_DB,
    DEFAULT_TEXT_DISAGREEMENT,
    SIZES,
    generation_params,
    later_knobs_set,
)
from data_prep.synthetic_writer import COMPLETE_MARKER, generate
from emokit.config import CorpusConfig
from emokit.core.atomic import storage_error
from emokit.core.cli import run_cli
from emokit.core.errors import CorruptFileError
from emokit.core.lock import data_lock
from emokit.core.paths import data_dir
from emokit.data.manifest import write_manifest


def corpus_dir(corpus: CorpusConfig) -> Path:
    """Where the built-in corpus of these settings lives: ``data_dir()/synthetic_<size>_seed<N>``.

    Generator knobs away from their defaults add a suffix (``_text0.5_audio0.3_snr20``,
    ``_lexical_voice``, ``_length_decorrelation1`` ...), so each variant keeps its own folder.
    """
    base = Path(corpus.data_dir).expanduser() if corpus.data_dir else data_dir()
    name = f"synthetic_{corpus.synthetic_size}_seed{corpus.synthetic_seed}"
    knobs = (corpus.text_disagreement, corpus.audio_ambiguity, corpus.snr_db)
    if knobs != (DEFAULT_TEXT_DISAGREEMENT, DEFAULT_AUDIO_AMBIGUITY, DEFAULT_SNR_DB):
        name += "_text{:g}_audio{:g}_snr{:g}".format(*knobs)
    for knob, value in later_knobs_set(corpus).items():
        name += f"_{knob}" if value is True else f"_{knob}{value:g}"
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
        params = generation_params(corpus)
    marker = out / COMPLETE_MARKER

    def ready() -> bool:
        return (params is None or _marker_params(marker) == params) and \
            _manifest_is_current(manifest, root, corpus.class_set)

    if ready():  # nothing to write: no lock needed (a read-only data folder works)
        return manifest
    try:
        with data_lock(out, "the corpus"):  # a second process waits instead of reading half
            if params is not None and _marker_params(marker) != params:
                generate(out, corpus)
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
    parser.add_argument("--cue-probability", type=float, default=CorpusConfig.cue_probability)
    parser.add_argument("--scripted-share", type=float, default=CorpusConfig.scripted_share,
                        help="share of four-class turns in scripted dialogs (default: the size's)")
    parser.add_argument("--independent-voice", action="store_true",
                        help="the voice reads another sentence than the transcript")
    parser.add_argument("--lexical-voice", action="store_true",
                        help="every word gets one fixed pronunciation")
    parser.add_argument("--length-decorrelation", type=float,
                        default=CorpusConfig.length_decorrelation)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    corpus = CorpusConfig(synthetic_size=args.size, synthetic_seed=args.seed,
                          text_disagreement=args.text_disagreement,
                          audio_ambiguity=args.audio_ambiguity, snr_db=args.snr_db,
                          cue_probability=args.cue_probability,
                          scripted_share=args.scripted_share, lexical_voice=args.lexical_voice,
                          independent_voice=args.independent_voice,
                          length_decorrelation=args.length_decorrelation)
    from emokit.config import ExperimentConfig
    from emokit.config.validation import validate_config

    validate_config(ExperimentConfig(corpus=corpus), "the command line")
    out = Path(args.out) if args.out else corpus_dir(corpus)
    began = time.perf_counter()
    root = generate(out, corpus, args.workers)
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
