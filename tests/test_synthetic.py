"""The built-in corpus: IEMOCAP's shape and counts, determinism, the knobs, and corpus on demand."""

import csv
import dataclasses
import hashlib
import json
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile

from data_prep import _voice, synthetic, synthetic_plan, synthetic_writer
from data_prep._words import CUES
from emokit.config import CorpusConfig, FeatureConfig
from emokit.data.manifest import read_manifest


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    """The mini corpus made by the command line, as a user makes it: its output folder."""
    out = tmp_path_factory.mktemp("mini") / "corpus"
    assert synthetic.main(["--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def iemocap_plan():
    """The IEMOCAP-size corpus as planned (every turn, no audio)."""
    return synthetic_plan.plan_corpus(CorpusConfig(synthetic_size="iemocap"))


def _ground_truth(out: Path) -> list[dict]:
    with open(out / "ground_truth.csv", newline="") as f:
        return list(csv.DictReader(f))


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_iemocap_size_has_iemocap_counts_and_durations(iemocap_plan):
    turns = [t for t in iemocap_plan if t.labelled]
    four = [t for t in turns if t.label]
    assert len(four) == 5531
    assert Counter(t.label for t in four) == {"neutral": 1708, "happy": 1636, "angry": 1103,
                                              "sad": 1084}
    assert Counter(t.raw_label for t in four)["hap"] == 595
    assert [sum(t.session == s for t in four) for s in range(1, 6)] == [1085, 1023, 1151, 1031,
                                                                       1241]
    assert {t.raw_label for t in turns if not t.label} == {"fru", "xxx", "sur", "fea", "oth", "dis"}
    durations = np.array([t.duration for t in four])
    assert 4.2 < durations.mean() < 4.8 and durations.min() >= 1.0 and durations.max() <= 20.0
    assert len({t.speaker for t in four}) == 10


def test_iemocap_size_uses_the_release_dialog_names(iemocap_plan):
    dialogs = {t.dialog for t in iemocap_plan}
    assert {"Ses01F_impro01", "Ses01M_impro08", "Ses03F_script02_2", "Ses05M_script01_1b"} <= dialogs
    assert "Ses05M_script01_1" not in dialogs


def test_scripted_dialogs_perform_the_same_lines_in_every_session(iemocap_plan):
    """As in IEMOCAP: a script's lines recur from session to session (Ses05M_script01_1b plays
    script01_1), mostly with the emotion they were written for; improvised turns never repeat."""
    turns = [t for t in iemocap_plan if t.label]
    improvised = [t for t in turns if t.mode == "impro"]
    assert len({t.transcript for t in improvised}) == len(improvised)
    scripted = [t for t in turns if t.mode == "script"]
    sessions, labels = defaultdict(set), defaultdict(Counter)
    for t in scripted:
        line = (synthetic_plan.script_name(t.dialog), t.transcript)
        sessions[line].add(t.session)
        labels[line][t.label] += 1
    assert len(labels) < len(scripted) / 5
    assert np.mean([len(sessions[synthetic_plan.script_name(t.dialog), t.transcript]) > 1
                    for t in scripted]) > 0.95
    majority = sum(c.most_common(1)[0][1] for c in labels.values()) / len(scripted)
    assert 0.7 < majority < 0.95  # measured 0.84: actors vary the rest
    assert synthetic_plan.script_name("Ses05M_script01_1b") == "script01_1"
    session5 = {t.transcript for t in scripted if t.dialog == "Ses05M_script01_1b"}
    earlier = {t.transcript for t in scripted if t.dialog.endswith("_script01_1") and t.session < 5}
    assert session5 and len(session5 & earlier) > 0.8 * len(session5)


def test_mini_is_balanced_over_sessions_and_speakers(mini):
    rows = read_manifest(mini / "manifest.csv", labelled_only=True)
    per_session = Counter(u.session for u in rows)
    assert set(per_session) == {1, 2, 3, 4, 5} and len(set(per_session.values())) == 1
    per_speaker = Counter(u.speaker for u in rows)
    assert len(per_speaker) == 10 and min(per_speaker.values()) > 0.3 * len(rows) / 10
    assert max(u.duration for u in rows) <= 4.0


def test_wavs_are_16k_mono_pcm16_of_the_planned_length(mini):
    truth = _ground_truth(mini)
    for row in truth[:: len(truth) // 20]:
        info = soundfile.info(str(mini / "IEMOCAP_full_release" / row["wav"]))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert info.frames == round(float(row["duration"]) * 16000)


def test_same_seed_gives_byte_identical_files(mini, tmp_path):
    again = tmp_path / "again"
    synthetic_writer.generate(again, CorpusConfig(synthetic_seed=0))
    first = _hashes(mini / "IEMOCAP_full_release")
    assert first == _hashes(again / "IEMOCAP_full_release")
    assert (mini / "ground_truth.csv").read_bytes() == (again / "ground_truth.csv").read_bytes()


def test_another_seed_gives_another_corpus():
    first = synthetic_plan.plan_corpus(CorpusConfig(synthetic_seed=0))
    other = synthetic_plan.plan_corpus(CorpusConfig(synthetic_seed=1))
    assert [t.transcript for t in first] != [t.transcript for t in other]


def test_knobs_set_the_fraction_of_disagreeing_modalities():
    iemocap = CorpusConfig(synthetic_size="iemocap", text_disagreement=0.3, audio_ambiguity=0.1)
    turns = [t for t in synthetic_plan.plan_corpus(iemocap) if t.label]
    with_cue = [t for t in turns if t.text_emotion]
    assert np.mean([t.text_emotion != t.label for t in with_cue]) == pytest.approx(0.3, abs=0.03)
    assert np.mean([t.audio_emotion != t.label for t in turns]) == pytest.approx(0.1, abs=0.02)
    clean = [t for t in synthetic_plan.plan_corpus(CorpusConfig(text_disagreement=0,
                                                                audio_ambiguity=0)) if t.label]
    assert all(t.audio_emotion == t.label for t in clean)
    assert all(t.text_emotion in ("", t.label) for t in clean)


def test_transcripts_carry_the_cue_words_of_their_text_emotion(mini):
    for row in _ground_truth(mini):
        words = set(row["transcript"].lower().rstrip(".?!").split())
        cue_classes = {c for c, cues in CUES.items() if words & set(cues)}
        assert cue_classes == ({row["text_emotion"]} if row["text_emotion"] else set())
        assert 1 <= len(words - {"[laughter]", "[breathing]", "[garbage]"}) <= 25


def test_voice_carries_emotion_in_its_energy(mini):
    truth = _ground_truth(mini)
    rms = {c: [] for c in ("neutral", "happy", "angry", "sad")}
    for row in truth:
        if row["label"] and row["audio_ambiguous"] == "False":
            wave, _ = soundfile.read(str(mini / "IEMOCAP_full_release" / row["wav"]))
            rms[row["label"]].append(np.sqrt(np.mean(wave**2)))
    level = {c: np.median(v) for c, v in rms.items()}
    assert level["angry"] > level["happy"] > level["neutral"] > level["sad"]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="unknown size 'huge'"):
        synthetic_plan.plan_corpus(CorpusConfig(synthetic_size="huge"))
    with pytest.raises(ValueError, match="text_disagreement must be a fraction"):
        synthetic_plan.plan_corpus(CorpusConfig(text_disagreement=1.5))
    with pytest.raises(ValueError, match="scripted_share must be a fraction"):
        synthetic_plan.plan_corpus(CorpusConfig(scripted_share=-0.1))


def test_ensure_corpus_generates_once_and_redoes_a_killed_generation(mini, tmp_path, monkeypatch):
    corpus = CorpusConfig(data_dir=str(tmp_path))
    shutil.copytree(mini / "IEMOCAP_full_release",
                    synthetic.corpus_dir(corpus) / "IEMOCAP_full_release")
    shutil.copy(mini / synthetic_writer.COMPLETE_MARKER, synthetic.corpus_dir(corpus))
    calls = []

    def fake_generate(out, *args):  # stands in for a real generation: writes the marker
        calls.append(args)
        shutil.copy(mini / synthetic_writer.COMPLETE_MARKER, out)

    monkeypatch.setattr(synthetic, "generate", fake_generate)
    manifest = synthetic.ensure_corpus(corpus)
    assert calls == [] and manifest == tmp_path / "synthetic_mini_seed0" / "manifest.csv"
    assert len(read_manifest(manifest, labelled_only=True)) == 350
    assert synthetic.release_root(manifest) == (manifest.parent / "IEMOCAP_full_release").resolve()
    stamp = manifest.stat().st_mtime_ns
    assert synthetic.ensure_corpus(corpus) == manifest and manifest.stat().st_mtime_ns == stamp
    (manifest.parent / synthetic_writer.COMPLETE_MARKER).unlink()  # as if generation was killed
    synthetic.ensure_corpus(corpus)
    assert calls == [(corpus,)]
    assert synthetic.ensure_corpus(corpus) == manifest and len(calls) == 1


def test_ensure_corpus_parses_a_given_release_once(mini, tmp_path, monkeypatch):
    monkeypatch.setenv("EMOKIT_DATA", str(tmp_path))
    root = mini / "IEMOCAP_full_release"
    manifest = synthetic.ensure_corpus(CorpusConfig(root=str(root)))
    assert manifest == tmp_path / "iemocap" / "manifest.csv"
    assert synthetic.release_root(manifest) == root.resolve()
    assert json.loads(manifest.with_name("manifest.source.json").read_text())["class_set"] == "4class"
    six = synthetic.ensure_corpus(CorpusConfig(root=str(root), class_set="6class"))
    assert "excited" in {u.label for u in read_manifest(six)}


def test_knobs_away_from_defaults_get_their_own_folder(tmp_path):
    default = synthetic.corpus_dir(CorpusConfig(data_dir=str(tmp_path)))
    noisy = synthetic.corpus_dir(CorpusConfig(data_dir=str(tmp_path), snr_db=5.0))
    assert default.name == "synthetic_mini_seed0" and noisy != default


# ------------------------------------------------------------------------------- issue 10: state


def _copy_corpus(mini, corpus: CorpusConfig) -> Path:
    shutil.copytree(mini / "IEMOCAP_full_release",
                    synthetic.corpus_dir(corpus) / "IEMOCAP_full_release")
    shutil.copy(mini / synthetic_writer.COMPLETE_MARKER, synthetic.corpus_dir(corpus))
    return synthetic.corpus_dir(corpus)


def test_a_damaged_completion_marker_regenerates_instead_of_crashing(mini, tmp_path, monkeypatch):
    corpus = CorpusConfig(data_dir=str(tmp_path))
    out = _copy_corpus(mini, corpus)
    (out / synthetic_writer.COMPLETE_MARKER).write_text('{"size": "mi')  # cut short
    calls = []

    def fake_generate(folder, *args):
        calls.append(args)
        shutil.copy(mini / synthetic_writer.COMPLETE_MARKER, folder)

    monkeypatch.setattr(synthetic, "generate", fake_generate)
    manifest = synthetic.ensure_corpus(corpus)
    assert len(calls) == 1 and len(read_manifest(manifest, labelled_only=True)) == 350


def test_a_damaged_manifest_source_is_reparsed_or_named(mini, tmp_path):
    corpus = CorpusConfig(data_dir=str(tmp_path))
    _copy_corpus(mini, corpus)
    manifest = synthetic.ensure_corpus(corpus)
    source = manifest.with_name("manifest.source.json")
    source.write_text('{"root": "/some')  # cut short
    from emokit.core.errors import CorruptFileError

    with pytest.raises(CorruptFileError, match=r"manifest\.source\.json is corrupt .*delete"):
        synthetic.release_root(manifest)
    assert synthetic.ensure_corpus(corpus) == manifest  # parses the release again
    assert synthetic.release_root(manifest) == (manifest.parent / "IEMOCAP_full_release").resolve()


def test_state_files_are_written_through_the_atomic_helper(tmp_path, monkeypatch):
    """A killed write leaves the old file or the new one: each state file goes through a
    temporary file and ``os.replace``."""
    import os

    from data_prep import iemocap_problems, manifest_source
    from emokit.core import atomic

    replaced = []

    def spy(src, dst):
        replaced.append(Path(dst).name)
        os.rename(src, dst)

    monkeypatch.setattr(atomic.os, "replace", spy)
    root = synthetic_writer.generate(tmp_path / "c", CorpusConfig(synthetic_seed=1))
    manifest_source.write_source(tmp_path / "manifest.csv", root, "4class")
    iemocap_problems.write_skip_report([], tmp_path / "manifest.skipped.csv")
    assert {synthetic_writer.COMPLETE_MARKER, "manifest.source.json",
            "manifest.skipped.csv"} <= set(replaced)


def test_cli_refuses_bad_knobs_without_a_traceback(tmp_path, capsys):
    assert synthetic.main(["--out", str(tmp_path / "x"), "--text-disagreement", "2"]) == 2
    err = capsys.readouterr().err
    assert "corpus.text_disagreement: 2.0 is not allowed" in err and "Traceback" not in err


def test_generating_and_caching_hold_the_data_folder_lock(tmp_path, monkeypatch):
    """A second process on the same data folder waits (emokit.core.lock.data_lock) while the corpus
    is generated and while features are extracted, instead of reading half-written files."""
    from data_prep import features as features_prep
    from emokit.core import lock

    held = []

    def fake_generate(out, *args):
        held.append(("corpus", str(out.resolve()) in lock._DATA_HELD))
        raise RuntimeError("stop after the check")

    monkeypatch.setattr(synthetic_writer, "_generate", fake_generate)
    with pytest.raises(RuntimeError, match="stop after"):
        synthetic.ensure_corpus(CorpusConfig(data_dir=str(tmp_path)))

    def fake_run(todo, out, *args):
        held.append(("features", str(out.resolve()) in lock._DATA_HELD))
        raise RuntimeError("stop after the check")

    monkeypatch.setattr(features_prep, "_run", fake_run)
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,session,dialog,speaker,gender,mode,raw_label,label,start,end,valence,"
                        "arousal,dominance,transcript,wav,duration,sample_rate\n"
                        "Ses01F_impro01_F000,1,Ses01F_impro01,Ses01F,F,impro,neu,neutral,0,1,3,3,"
                        "3,hi,a.wav,1,16000\n")
    with pytest.raises(RuntimeError, match="stop after"):
        features_prep.build_cache(manifest, tmp_path, FeatureConfig(), progress=False)
    assert held == [("corpus", True), ("features", True)]


# --------------------------------------------------------------- issue 25: the generator knobs

_DEFAULT_MINI_PLAN = "3cdf07dcf8c443a04722bd09720f80f37372d89c1c89c6cc46417304ca9a495f"


def _plan_digest(turns) -> str:
    rows = [(t.id, t.transcript, t.duration, t.raw_label, t.mode, t.text_emotion,
             t.audio_emotion, round(t.intensity, 6)) for t in turns]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def test_default_knobs_plan_the_corpus_made_before_they_existed():
    """The digest was taken from the plan of mini seed 0 before the knobs existed: at their
    defaults they draw nothing new. The marker at defaults is the old one too (corpora made before
    stay current), and the folder name with it."""
    explicit = CorpusConfig(cue_probability=0.7, scripted_share=None, lexical_voice=False,
                            length_decorrelation=0.0)
    assert _plan_digest(synthetic_plan.plan_corpus(explicit)) == _DEFAULT_MINI_PLAN
    assert set(synthetic_plan.generation_params(explicit)) == {
        "size", "seed", "text_disagreement", "audio_ambiguity", "snr_db"}


def _word_sets(turns) -> list[set[str]]:
    return [set(t.transcript.lower().rstrip(".?!").split()) for t in turns]


def test_cue_probability_sets_the_share_of_transcripts_with_cue_words():
    cue_words = set().union(*map(set, CUES.values()))
    none = synthetic_plan.plan_corpus(CorpusConfig(cue_probability=0.0))
    assert not any(words & cue_words for words in _word_sets(none))
    every = [t for t in synthetic_plan.plan_corpus(CorpusConfig(cue_probability=1.0)) if t.labelled]
    assert {t.mode for t in every} == {"impro", "script"}
    assert all(words & cue_words for words in _word_sets(every))
    half = [t for t in synthetic_plan.plan_corpus(CorpusConfig(cue_probability=0.4)) if t.label]
    assert np.mean([bool(t.text_emotion) for t in half]) == pytest.approx(0.4, abs=0.08)


@pytest.mark.parametrize("share", [0.0, 0.5, 1.0])
def test_scripted_share_splits_each_session_between_scripted_and_improvised(share):
    turns = [t for t in synthetic_plan.plan_corpus(CorpusConfig(scripted_share=share)) if t.label]
    for s in range(1, 6):
        session = [t for t in turns if t.session == s]
        assert np.mean([t.mode == "script" for t in session]) == round(share * 70) / 70
    scripted = [t for t in turns if t.mode == "script"]
    if scripted:  # still plays: lines recur (the pools follow the share)
        assert len({t.transcript for t in scripted}) < len(scripted) / 3


def _duration_word_r(corpus: CorpusConfig, mode: str | None = None) -> float:
    """Pearson r between duration and word count over mini's four-class turns, mean of seeds 0-4."""
    rs = []
    for seed in range(5):
        plan = synthetic_plan.plan_corpus(dataclasses.replace(corpus, synthetic_seed=seed))
        turns = [t for t in plan if t.label and mode in (None, t.mode)]
        words = [sum(not w.startswith("[") for w in t.transcript.split()) for t in turns]
        rs.append(np.corrcoef([t.duration for t in turns], words)[0, 1])
    return float(np.mean(rs))


def test_length_decorrelation_stops_the_duration_predicting_the_word_count():
    """Measured (mean of seeds 0-4): r 0.93 at 0, 0.42 at 0.5, -0.03 at 1; scripted turns alone
    0.94, 0.35, -0.03."""
    assert _duration_word_r(CorpusConfig()) > 0.9
    assert 0.3 < _duration_word_r(CorpusConfig(length_decorrelation=0.5)) < 0.55
    assert abs(_duration_word_r(CorpusConfig(length_decorrelation=1.0))) < 0.12
    assert abs(_duration_word_r(CorpusConfig(length_decorrelation=1.0), "script")) < 0.15
    durations = [t.duration for t in synthetic_plan.plan_corpus(
        CorpusConfig(length_decorrelation=1.0)) if t.label]
    assert min(durations) >= 1.0 and max(durations) <= 4.0


def _articulation(word: str, rate: float, seed: int, lexical: bool):
    """The F1/F2 targets `(syllables, 4)` and relative lengths `(syllables,)` of one word."""
    rng = np.random.default_rng(seed)
    _, lengths, _, sounds = _voice._timeline([word], rate, 16000, rng, lexical)
    _, formants = _voice._segment_vowels(sounds, rng)
    return formants, lengths / lengths.sum()


def test_lexical_voice_gives_each_word_one_pronunciation():
    for word in ("wonderful", "Ticket", "I'm"):
        formants, lengths = _articulation(word, 1.0, 0, lexical=True)
        slow = _articulation(word.lower(), 0.8, 1, lexical=True)  # another rate and rng state
        assert np.array_equal(formants, slow[0]) and np.allclose(lengths, slow[1], rtol=0.25)
    assert len(_voice.pronunciation("wonderful")) == len(_voice.pronunciation("terrible")) == 3
    assert not np.array_equal(_articulation("wonderful", 1.0, 0, True)[0],
                              _articulation("terrible", 1.0, 0, True)[0])
    random = [_articulation("wonderful", 1.0, seed, lexical=False)[0] for seed in range(4)]
    assert not all(np.array_equal(random[0], other) for other in random[1:])


def test_lexical_voice_lets_mfccs_tell_words_apart_across_speakers(tmp_path):
    """Leave-one-speaker-out nearest template on MFCC statistics of 12 words by 4 speakers: the
    lexical voice's words are found (measured 0.77), the random voice's are not (0.02; chance
    0.08)."""
    from data_prep._modality_check import mfcc_statistics

    words = [w for cues in CUES.values() for w in cues[:3]]
    voices = [_voice.Voice.random(g, np.random.default_rng(i)) for i, g in enumerate("FMFM")]
    neutral = _voice.EMOTION_PROSODY["neutral"]

    def word_accuracy(lexical: bool) -> float:
        x = np.empty((len(voices), len(words), 80))
        for k, voice in enumerate(voices):
            for j, word in enumerate(words):
                wave = _voice.synthesize(word, 3000 + 3200 * _voice._syllables(word), voice,
                                         neutral, 20.0, np.random.default_rng([k, j]), lexical)
                soundfile.write(tmp_path / "w.wav", wave, 16000)
                x[k, j] = mfcc_statistics(tmp_path / "w.wav")
        x -= x.mean(axis=1, keepdims=True)  # per-speaker normalization
        x /= x.reshape(-1, x.shape[-1]).std(axis=0)
        hits = []
        for k in range(len(voices)):
            templates = np.delete(x, k, axis=0).mean(axis=0)
            nearest = ((x[k][:, None] - templates[None]) ** 2).sum(axis=-1).argmin(axis=1)
            hits.append(np.mean(nearest == np.arange(len(words))))
        return float(np.mean(hits))

    assert word_accuracy(lexical=True) > 0.6
    assert word_accuracy(lexical=False) < 0.3


def test_every_generator_knob_names_its_own_folder_and_marker(tmp_path):
    """A corpus made with other knobs lives elsewhere and is regenerated (its marker differs);
    the per-fold settings (train_label_noise, labelled_fraction) are not generator knobs."""
    base = CorpusConfig(data_dir=str(tmp_path))
    variants = [dataclasses.replace(base, **{knob: value}) for knob, value in (
        ("text_disagreement", 0.5), ("cue_probability", 0.5), ("scripted_share", 0.0),
        ("scripted_share", 1.0), ("lexical_voice", True), ("length_decorrelation", 1.0),
        ("independent_voice", True))]
    folders = {synthetic.corpus_dir(c).name for c in [base, *variants]}
    assert len(folders) == len(variants) + 1
    assert synthetic.corpus_dir(dataclasses.replace(base, lexical_voice=True)).name == \
        "synthetic_mini_seed0_lexical_voice"
    params = [synthetic_plan.generation_params(c) for c in [base, *variants]]
    assert all(p != params[0] for p in params[1:])
    per_fold = dataclasses.replace(base, train_label_noise=0.3, labelled_fraction=0.5)
    assert synthetic.corpus_dir(per_fold) == synthetic.corpus_dir(base)
    assert synthetic_plan.generation_params(per_fold) == params[0]


def test_cli_passes_the_generator_knobs(tmp_path, monkeypatch):
    seen = []

    def fake_generate(out, corpus, workers):
        seen.append(corpus)
        raise RuntimeError("stop after the check")

    monkeypatch.setattr(synthetic, "generate", fake_generate)
    with pytest.raises(RuntimeError, match="stop after"):
        synthetic.main(["--out", str(tmp_path), "--cue-probability", "0.5", "--scripted-share",
                        "1", "--lexical-voice", "--length-decorrelation", "0.5"])
    assert [(c.cue_probability, c.scripted_share, c.lexical_voice, c.length_decorrelation)
            for c in seen] == [(0.5, 1.0, True, 0.5)]
    assert synthetic.main(["--out", str(tmp_path), "--scripted-share", "2"]) == 2


def test_an_independent_voice_reads_filler_words_unrelated_to_the_transcript():
    """independent_voice: what the voice reads shares nothing with the transcript but its turn's
    duration: not its words, not its word count (with length_decorrelation 1, not even via the
    duration)."""
    from data_prep import _words
    from data_prep.synthetic_writer import independent_sentence

    corpus = CorpusConfig(length_decorrelation=1.0, independent_voice=True)
    turns = [t for t in synthetic_plan.plan_corpus(corpus) if t.labelled]
    spoken = [independent_sentence(t, corpus.synthetic_seed) for t in turns]
    assert spoken == [independent_sentence(t, corpus.synthetic_seed) for t in turns]  # fixed
    assert all(w in _words.FILLER for s in spoken for w in s.split())
    read = np.array([len(s.split()) for s in spoken])
    written = np.array([len(t.transcript.split()) for t in turns])
    assert abs(np.corrcoef(read, written)[0, 1]) < 0.15
    assert np.corrcoef(read, [t.duration for t in turns])[0, 1] > 0.8  # speech fills the turn
