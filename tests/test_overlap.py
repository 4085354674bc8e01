"""IEMOCAP's scripted overlap: what folds.json records, UA split by dialog mode, improvised only."""

import csv
import json

import pytest

from data_prep import synthetic_plan
from emokit.config import CorpusConfig, ExperimentConfig
from emokit.core.errors import ConfigError
from emokit.data import overlap
from emokit.data.folds import make_folds
from emokit.data.manifest import FIELDS, Utterance
from emokit.evaluation import modes
from emokit.experiment.protocol import folds_record, leakage, random_split


@pytest.fixture(scope="module")
def mini_rows():
    """The built-in mini corpus's labelled rows, as planned (no audio: fast)."""
    return [Utterance(**{f: getattr(t, f) for f in FIELDS})
            for t in synthetic_plan.plan_corpus() if t.label]


def test_folds_record_shows_scripted_test_turns_seen_in_training(mini_rows):
    """Leave-one-session-out on the built-in corpus: scripted test lines are in training (the
    same plays in every session), improvised ones are not."""
    folds = list(enumerate(make_folds(mini_rows, "session"), start=1))
    records = json.loads(folds_record(folds, mini_rows))
    mode = {u.id: u.mode for u in mini_rows}
    assert len(records) == 5
    assert sum(r["seen_transcript_scripted"] for r in records) / 5 >= 0.8  # mini: 0.91
    for r in records:
        assert r["seen_transcript_scripted"] >= 0.6
        assert r["seen_transcript_improvised"] <= 0.05
        assert r["scripted_test_ids"] == [i for i in r["test_ids"] if mode[i] == "script"]
        assert r["test_scripted"] == len(r["scripted_test_ids"]) > 0
        share = r["test_scripted"] / len(r["test_ids"])
        assert r["seen_transcript"] == pytest.approx(
            share * r["seen_transcript_scripted"] + (1 - share) * r["seen_transcript_improvised"])
    note = modes.protocol_note(records)
    assert note.startswith("; test transcripts seen verbatim in training:")
    assert "scripted 9" in note or "scripted 100%" in note
    assert json.loads(folds_record(folds))[0].keys().isdisjoint({"seen_transcript"})


def test_overlap_compares_transcripts_as_the_text_pipeline_reads_them():
    def row(uid, mode, text):
        return Utterance(uid, 1, uid.rsplit("_", 1)[0], "Ses01F", "F", mode, "neu", "neutral",
                         0.0, 1.0, 3.0, 3.0, 3.0, text, "", 1.0, 16000)

    rows = [row("Ses01F_script01_1_F000", "script", "[LAUGHTER] Well, I don't know."),
            row("Ses02F_script01_1_F000", "script", "well i DON'T know"),
            row("Ses02F_script01_1_F001", "script", "Well, I know."),
            row("Ses02F_impro01_F000", "impro", "Something else entirely.")]
    seen = overlap.transcript_overlap(rows, [rows[0].id], [r.id for r in rows[1:]])
    assert seen == {"seen_transcript": pytest.approx(1 / 3), "seen_transcript_scripted": 0.5,
                    "seen_transcript_improvised": 0.0, "test_scripted": 2}
    cased = overlap.transcript_overlap(rows, [rows[0].id], [rows[1].id], lowercase=False)
    assert cased["seen_transcript"] == 0.0
    assert overlap.transcript_overlap(rows, [rows[0].id], [rows[3].id])[
        "seen_transcript_scripted"] is None


def test_leakage_of_a_random_split_and_of_a_session_fold(mini_rows):
    train, test = random_split(mini_rows, 0.2, seed=0)
    random = leakage(mini_rows, train, test)
    fold = make_folds(mini_rows, "session")[0]
    session = leakage(mini_rows, fold.train_ids + fold.val_ids, fold.test_ids)
    assert random["seen_speaker"] == 1.0 and session["seen_speaker"] == 0.0
    assert session["seen_transcript_scripted"] >= 0.8  # the scripts survive the session split


def test_repeated_transcripts_counts_script_lines_across_sessions(mini_rows):
    counts = overlap.repeated_transcripts(mini_rows)
    assert counts["impro"]["distinct"] == counts["impro"]["turns"]
    assert counts["impro"]["in_other_sessions"] == 0.0
    assert counts["script"]["distinct"] < counts["script"]["turns"] / 3
    assert counts["script"]["in_other_sessions"] > 0.9


def test_improvised_only_drops_scripted_dialogs(mini_rows):
    kept = overlap.improvised_only(mini_rows, CorpusConfig(improvised_only=True))
    assert kept and all(u.mode == "impro" for u in kept)
    assert len(kept) == sum(u.mode == "impro" for u in mini_rows) < len(mini_rows)
    assert overlap.improvised_only(mini_rows, CorpusConfig()) is mini_rows
    scripted = [u for u in mini_rows if u.mode == "script"]
    with pytest.raises(ConfigError, match="corpus.improvised_only: the corpus has no improvised"):
        overlap.improvised_only(scripted, CorpusConfig(improvised_only=True))
    with pytest.raises(ConfigError, match=r"corpus.improvised_only: expected true or false"):
        ExperimentConfig.from_dict({"corpus": {"improvised_only": "yes"}})


def test_ua_by_mode_on_a_hand_made_table():
    """UA per subset, over the classes present in it: scripted a/b/c (sad right, angry 1 of 2),
    improvised d/e (neutral wrong, happy right); angry is absent from the improvised subset and
    does not count as a zero there."""
    rows = [{"id": "a", "true": "sad", "predicted": "sad"},
            {"id": "b", "true": "angry", "predicted": "sad"},
            {"id": "c", "true": "angry", "predicted": "angry"},
            {"id": "d", "true": "neutral", "predicted": "happy"},
            {"id": "e", "true": "happy", "predicted": "happy"}]
    assert modes.ua_by_mode(rows, {"a", "b", "c"}) == {"script": 0.75, "impro": 0.5}
    assert modes.ua_by_mode(rows, []) == {"script": None, "impro": 0.625}  # (1 + .5 + 0 + 1) / 4


def _write_run(out, system, fold, seed, rows):
    from emokit.evaluation.runstore import run_path

    run = run_path(out, system, fold, seed)
    run.mkdir(parents=True)
    with open(run / "predictions.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["id", "true", "predicted"])
        writer.writeheader()
        writer.writerows({"id": i, "true": t, "predicted": p} for i, t, p in rows)
    return {"system": system, "fold": fold, "seed": seed}


def test_mode_split_averages_seeds_within_a_fold_then_folds(tmp_path):
    """Fold 1 has two seeds (scripted UA 1.0 and 0.0), fold 2 one (0.0): the fold-unit mean is
    (0.5 + 0.0) / 2 = 0.25, not the run mean 1/3."""
    folds = [{"fold": 1, "seen_transcript": 0.5, "seen_transcript_scripted": 1.0,
              "seen_transcript_improvised": 0.0, "scripted_test_ids": ["s1"]},
             {"fold": 2, "seen_transcript": 0.5, "seen_transcript_scripted": 0.5,
              "seen_transcript_improvised": 0.0, "scripted_test_ids": ["s2"]}]
    (tmp_path / "folds.json").write_text(json.dumps(folds))
    runs = [_write_run(tmp_path, "text", 1, 0, [("s1", "sad", "sad"), ("i1", "sad", "sad")]),
            _write_run(tmp_path, "text", 1, 1, [("s1", "sad", "angry"), ("i1", "sad", "sad")]),
            _write_run(tmp_path, "text", 2, 0, [("s2", "sad", "angry"), ("i2", "sad", "sad")])]
    split = modes.mode_split(tmp_path, runs, ["text"])["text"]
    assert split == {"impro": 1.0, "script": 0.25, "gap": -0.75, "folds": 2}
    markdown = modes.append_mode_section(tmp_path, runs, ["text"], "# report\n")
    assert "| text | 100.0 | 25.0 | -75.0 | 2 |" in markdown
    assert "75% of scripted test turns occur verbatim" in markdown
    assert (tmp_path / "report.md").read_text() == markdown
    assert modes.append_mode_section(tmp_path, [], ["text"], "# report\n") == "# report\n"


def test_folds_record_holds_the_validation_sets_size_and_overlap(mini_rows):
    folds = list(enumerate(make_folds(mini_rows, "session"), start=1))
    records = json.loads(folds_record(folds, mini_rows))
    by_id = {u.id: u for u in mini_rows}
    for r in records:
        train = {overlap.transcript_key(by_id[i].transcript) for i in r["train_ids"]}
        scripted = [i for i in r["val_ids"] if by_id[i].mode == "script"]
        assert r["val_turns"] == len(r["val_ids"]) > 0
        assert r["val_scripted"] == len(scripted)
        assert r["val_seen_transcript"] == pytest.approx(
            sum(overlap.transcript_key(by_id[i].transcript) in train for i in r["val_ids"])
            / len(r["val_ids"]))
        if scripted:
            assert r["val_seen_transcript_scripted"] == pytest.approx(
                sum(overlap.transcript_key(by_id[i].transcript) in train for i in scripted)
                / len(scripted))
    note = modes.protocol_note(records)
    speakers = {len(r["val_speakers"]) for r in records}
    turns = sorted(r["val_turns"] for r in records)
    span = f"{turns[0]}" if turns[0] == turns[-1] else f"{turns[0]}-{turns[-1]}"
    assert speakers == {1}  # pipeline.validation_speakers
    assert "; validation (early stopping): 1 speaker, " in note
    assert f"{span} turns per fold" in note
    share = sum(r["val_seen_transcript_scripted"] for r in records) / len(records)
    assert f"(scripted {100 * share:.0f}%, improvised" in note
    old = [{k: v for k, v in r.items() if not k.startswith("val_") or k == "val_speakers"}
           for r in records]
    assert "validation" not in modes.protocol_note(old)  # folds.json written before


def test_each_fused_system_gets_a_paired_interval_per_mode(tmp_path):
    """Per fold and mode: the system's UA minus the baseline's, seeds averaged within a fold,
    then the 95% t-interval over the three folds; the text model (unimodal) gets none."""
    import math

    import numpy as np
    from scipy.stats import t

    folds = [{"fold": k, "scripted_test_ids": [f"s{k}a", f"s{k}b"]} for k in (1, 2, 3)]
    (tmp_path / "folds.json").write_text(json.dumps(folds))

    def rows(k, impro_right, script_right):  # two sad turns per mode: UA = share right
        return [(f"i{k}a", "sad", "sad" if impro_right >= 1 else "angry"),
                (f"i{k}b", "sad", "sad" if impro_right >= 2 else "angry"),
                (f"s{k}a", "sad", "sad" if script_right >= 1 else "angry"),
                (f"s{k}b", "sad", "sad" if script_right >= 2 else "angry")]

    # (system, fold, seed, improvised right of 2, scripted right of 2)
    plan = [("baseline", 1, 0, 1, 1), ("baseline", 1, 1, 1, 2), ("baseline", 2, 0, 0, 1),
            ("baseline", 3, 0, 1, 0), ("contrastive-infonce-0.3", 1, 0, 2, 1),
            ("contrastive-infonce-0.3", 1, 1, 1, 2), ("contrastive-infonce-0.3", 2, 0, 2, 2),
            ("contrastive-infonce-0.3", 3, 0, 1, 2), ("text", 1, 0, 0, 2)]
    runs = [_write_run(tmp_path, s, k, seed, rows(k, i, sc)) for s, k, seed, i, sc in plan]
    records = modes.run_mode_uas(tmp_path, runs, ["baseline", "contrastive-infonce-0.3"])
    # fold 1: seeds differ by (+0.5, 0) improvised -> +0.25; scripted (0, 0) -> 0
    expected = {"impro": [0.25, 1.0, 0.0], "script": [0.0, 0.5, 1.0]}
    markdown = modes.mode_split_markdown(tmp_path, runs, ["baseline", "contrastive-infonce-0.3",
                                                          "text"])
    cells = []
    for mode, want in expected.items():
        diffs, test = modes.mode_difference(records, "contrastive-infonce-0.3", mode)
        np.testing.assert_allclose(diffs, want)
        half = t.ppf(0.975, 2) * np.std(want, ddof=1) / math.sqrt(3)
        assert (test.ci_low, test.ci_high) == pytest.approx((np.mean(want) - half,
                                                             np.mean(want) + half))
        cells.append(f"{100 * np.mean(want):+.1f} [{100 * (np.mean(want) - half):+.1f}, "
                     f"{100 * (np.mean(want) + half):+.1f}]")
    line = next(x for x in markdown.splitlines() if x.startswith("| contrastive-infonce-0.3"))
    assert line.endswith(f"| {cells[0]} | {cells[1]} |")
    assert next(x for x in markdown.splitlines() if x.startswith("| text")).endswith("|  |  |")
    assert next(x for x in markdown.splitlines() if x.startswith("| baseline")).endswith("|  |  |")
