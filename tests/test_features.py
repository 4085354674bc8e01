"""emokit.data.features, feature_cache and normalization, and data_prep.features: extraction, the
cache, resuming, normalization."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from data_prep.features import FeatureExtractionError, build_cache, cache_dir
from emokit.config import FeatureConfig
from emokit.data.audio import load_audio
from emokit.data.feature_cache import IncompleteCacheError, load_features
from emokit.data.features import (
    extract_features,
    feature_dim,
    frame_count,
    prosody_by_class,
    track_pitch,
)
from emokit.data.manifest import Utterance, write_manifest
from emokit.data.normalization import FeatureNormalizer

REPO = Path(__file__).resolve().parent.parent
RATE = 16000


def voice(f0=200.0, seconds=1.0, amplitude=0.3, seed=0):
    """A harmonic tone (5 partials) plus a little noise: a crude voiced vowel."""
    t = np.arange(int(seconds * RATE)) / RATE
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    noise = np.random.default_rng(seed).standard_normal(len(t))
    return (amplitude * wave / 2 + 0.005 * noise).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Extraction


@pytest.mark.parametrize("kind, dims", [("mfcc", 42), ("logmel", 40)])
@pytest.mark.parametrize("samples", [400, 1601, 16000, 37123])
def test_shapes_dtypes_and_frame_count_follow_the_hop(kind, dims, samples):
    config = FeatureConfig(kind=kind)
    features = extract_features(voice(seconds=samples / RATE), config)
    assert features.dtype == np.float32
    assert features.shape == (1 + samples // 160, dims) == (frame_count(samples, config),
                                                            feature_dim(config))
    assert np.isfinite(features).all()


def test_feature_dim_follows_the_config():
    assert feature_dim(FeatureConfig(n_mfcc=20)) == 63
    assert feature_dim(FeatureConfig(kind="logmel", n_mels=64)) == 64
    with pytest.raises(ValueError, match="unknown feature kind 'spectrum'"):
        feature_dim(FeatureConfig(kind="spectrum"))


def test_logmel_matches_librosa():
    import librosa

    wave = voice(seconds=0.7)
    ours = extract_features(wave, FeatureConfig(kind="logmel"))
    mel = librosa.feature.melspectrogram(y=wave, sr=RATE, n_fft=512, hop_length=160,
                                         win_length=400, n_mels=40, pad_mode="constant")
    np.testing.assert_allclose(ours, np.log(mel.T + 1e-10), atol=2e-3)


@pytest.mark.parametrize("f0", [90.0, 200.0, 330.0])
def test_pitch_of_a_harmonic_tone_is_tracked_within_two_percent(f0):
    log_f0, periodicity = track_pitch(voice(f0), FeatureConfig())
    inner = slice(5, -5)  # frames that see the signal on both sides
    np.testing.assert_allclose(np.exp(log_f0[inner]), f0, rtol=0.02)
    assert periodicity[inner].min() > 0.8


def test_noise_is_aperiodic_and_gliding_pitch_is_followed():
    noise = 0.1 * np.random.default_rng(1).standard_normal(RATE).astype(np.float32)
    assert np.median(track_pitch(noise, FeatureConfig())[1]) < 0.5
    t = np.arange(RATE) / RATE
    glide = (0.3 * np.sin(2 * np.pi * (150 * t + 50 * t**2))).astype(np.float32)  # 150 -> 250 Hz
    f0 = np.exp(track_pitch(glide, FeatureConfig())[0])
    np.testing.assert_allclose(f0[[25, 50, 75]], [175, 200, 225], rtol=0.03)


def test_prosody_columns_are_pitch_periodicity_and_energy():
    config = FeatureConfig()
    quiet, loud = extract_features(voice(200, amplitude=0.1), config), extract_features(
        voice(200, amplitude=0.4), config)
    high = extract_features(voice(300), config)
    inner = slice(5, -5)
    assert np.median(high[inner, -3]) - np.median(quiet[inner, -3]) == pytest.approx(
        np.log(300 / 200), abs=0.02)
    assert np.median(loud[inner, -1] - quiet[inner, -1]) == pytest.approx(np.log(4), abs=0.05)
    assert quiet[inner, -2].min() > 0.8


def test_extraction_is_deterministic():
    wave = voice(seconds=2.3, seed=3)
    np.testing.assert_array_equal(extract_features(wave, FeatureConfig()),
                                  extract_features(wave.copy(), FeatureConfig()))


# ---------------------------------------------------------------------------------------------
# The cache


def make_corpus(root: Path, count=8, unlabelled=(5,), seconds=0.6):
    """Write `count` wavs under root/release and a manifest; returns (manifest, release_root)."""
    release = root / "release"
    rows = []
    for i in range(count):
        uid = f"Ses01{'FM'[i % 2]}_impro01_{'FM'[i % 2]}{i:03d}"
        wav = f"Session1/sentences/wav/Ses01F_impro01/{uid}.wav"
        (release / wav).parent.mkdir(parents=True, exist_ok=True)
        sf.write(release / wav, voice(120 + 20 * i, seconds + 0.1 * i, seed=i), RATE)
        label = "" if i in unlabelled else ["neutral", "happy", "angry", "sad"][i % 4]
        rows.append(Utterance(uid, 1, "Ses01F_impro01", uid[:5] + uid[-4], uid[-4], "impro",
                              label[:3] or "xxx", label, 0.0, 1.0, 3.0, 3.0, 3.0, "hello there",
                              wav, seconds, RATE))
    return write_manifest(rows, root / "manifest.csv"), release


def shard_stats(folder: Path):
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in folder.glob("shard-*.npz")}


def test_cache_holds_exactly_what_extract_features_returns(tmp_path):
    manifest, release = make_corpus(tmp_path)
    out = build_cache(manifest, release, FeatureConfig(), workers=1, chunk_size=3, progress=False)
    assert out == tmp_path / "features" / FeatureConfig().key()
    features = load_features(out)
    labelled = [f"Ses01{'FM'[i % 2]}_impro01_{'FM'[i % 2]}{i:03d}" for i in range(8) if i != 5]
    assert list(features) == labelled  # unlabelled rows are not extracted
    for uid in labelled:
        wav = next(release.rglob(f"{uid}.wav"))
        np.testing.assert_array_equal(features[uid], extract_features(load_audio(wav),
                                                                      FeatureConfig()))
    assert json.loads((out / "config.json").read_text())["feature_dim"] == 42
    subset = load_features(out, [labelled[4], labelled[0]])
    assert list(subset) == [labelled[4], labelled[0]]
    with pytest.raises(KeyError, match="not in feature cache"):
        load_features(out, ["Ses09F_nowhere_F000"])


def test_same_config_is_a_cache_hit_and_a_changed_setting_a_miss(tmp_path, capsys):
    manifest, release = make_corpus(tmp_path, count=4)
    out = build_cache(manifest, release, FeatureConfig(), workers=1, chunk_size=2)
    before = shard_stats(out)
    capsys.readouterr()
    again = build_cache(manifest, release, FeatureConfig(normalization="global"), workers=1)
    assert again == out and "up to date" in capsys.readouterr().out
    assert shard_stats(out) == before
    other = build_cache(manifest, release, FeatureConfig(n_mfcc=20), workers=1, progress=False)
    assert other != out and other.parent == out.parent
    assert next(iter(load_features(other).values())).shape[1] == 63
    assert shard_stats(out) == before


def test_incomplete_cache_is_refused_with_the_command_to_finish_it(tmp_path):
    manifest, release = make_corpus(tmp_path, count=4)
    out = build_cache(manifest, release, FeatureConfig(), workers=1, chunk_size=2, progress=False)
    (out / "complete.json").unlink()
    with pytest.raises(IncompleteCacheError, match="re-run `python -m data_prep.features"):
        load_features(out)


def test_a_bad_file_names_its_manifest_line_and_keeps_finished_shards(tmp_path):
    manifest, release = make_corpus(tmp_path, count=6, unlabelled=())
    bad = next(release.rglob("*_M003.wav"))
    good_bytes = bad.read_bytes()
    bad.write_bytes(b"not audio at all")
    with pytest.raises(FeatureExtractionError,
                       match=r"Ses01M_impro01_M003 \(manifest line 5, file .*M003\.wav\).*not a "
                             r"readable audio file"):
        build_cache(manifest, release, FeatureConfig(), workers=1, chunk_size=2, progress=False)
    out = cache_dir(manifest, FeatureConfig())
    finished = shard_stats(out)
    assert len(finished) == 2 and not (out / "complete.json").exists()  # the good chunks
    bad.write_bytes(good_bytes)
    build_cache(manifest, release, FeatureConfig(), workers=1, chunk_size=2, progress=False)
    after = shard_stats(out)
    assert len(after) == 3 and all(after[name] == stats for name, stats in finished.items())


def test_parallel_workers_give_the_same_cache(tmp_path):
    manifest, release = make_corpus(tmp_path)
    one = load_features(build_cache(manifest, release, FeatureConfig(), tmp_path / "one",
                                    workers=1, chunk_size=2, progress=False))
    two = load_features(build_cache(manifest, release, FeatureConfig(), tmp_path / "two",
                                    workers=2, chunk_size=2, progress=False))
    assert list(one) == list(two)
    for uid in one:
        np.testing.assert_array_equal(one[uid], two[uid])


def test_a_killed_extraction_resumes_without_redoing_finished_shards(tmp_path):
    """SIGKILL a real `python -m data_prep.features` run midway, then re-run it.

    Utterance 6 (of 10, two per shard) is a named pipe: the run writes shards 0-2, then blocks
    opening it, and is killed there. The pipe then becomes a proper wav.
    """
    manifest, release = make_corpus(tmp_path, count=10, unlabelled=())
    blocker = next(release.rglob("*_F006.wav"))
    audio_bytes = blocker.read_bytes()
    blocker.unlink()
    os.mkfifo(blocker)
    command = [sys.executable, "-m", "data_prep.features", "--manifest", str(manifest), "--root",
               str(release), "--workers", "1", "--chunk-size", "2"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = cache_dir(manifest, FeatureConfig())
    run = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(shard_stats(out)) < 3 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.05)
        assert len(shard_stats(out)) == 3, run.stderr.read().decode() if run.poll() else "timeout"
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    assert run.returncode == -signal.SIGKILL
    finished = shard_stats(out)
    assert not (out / "complete.json").exists()
    with pytest.raises(IncompleteCacheError):
        load_features(out)

    blocker.unlink()
    blocker.write_bytes(audio_bytes)
    subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)
    after = shard_stats(out)
    assert len(after) == 5 and all(after[name] == stats for name, stats in finished.items())
    resumed = load_features(out)
    fresh = load_features(build_cache(manifest, release, FeatureConfig(), tmp_path / "fresh",
                                      workers=1, chunk_size=2, progress=False))
    assert list(resumed) == list(fresh)
    for uid in fresh:
        np.testing.assert_array_equal(resumed[uid], fresh[uid])


# ---------------------------------------------------------------------------------------------
# Normalization


@pytest.fixture
def fold():
    """Features of 3 speakers with different offsets; speaker C is the test speaker."""
    rng = np.random.default_rng(0)
    features, speakers = {}, {}
    for s, offset in zip("ABC", [0.0, 5.0, -3.0]):
        for i in range(4):
            uid = f"{s}{i}"
            features[uid] = (offset + rng.standard_normal((20 + 7 * i, 3)) * (1 + i)).astype(
                np.float32)
            speakers[uid] = s
    train = [u for u in features if u[0] in "AB"]
    return features, speakers, train


def test_global_statistics_come_from_training_ids_only(fold):
    features, speakers, train = fold
    norm = FeatureNormalizer.fit(features, train, speakers, "global")
    frames = np.concatenate([features[u] for u in train])
    np.testing.assert_allclose(norm.mean, frames.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(norm.std, frames.std(axis=0), rtol=1e-5)
    leaked = {u: (a + 1000 if u[0] == "C" else a) for u, a in features.items()}
    relearned = FeatureNormalizer.fit(leaked, train, speakers, "global")
    np.testing.assert_array_equal(relearned.mean, norm.mean)
    np.testing.assert_array_equal(relearned.std, norm.std)
    with_test = FeatureNormalizer.fit(leaked, list(leaked), speakers, "global")
    assert not np.allclose(with_test.mean, norm.mean)  # the check above can fail


def test_speaker_mode_uses_each_speakers_own_frames(fold):
    features, speakers, train = fold
    norm = FeatureNormalizer.fit(features, train, speakers, "speaker")
    for s in "ABC":
        out = np.concatenate([norm.transform(u, a) for u, a in features.items() if u[0] == s])
        np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-4)
        np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)
    unseen = features["C0"]  # a new speaker's utterance falls back to the training statistics
    np.testing.assert_allclose(norm.transform("new", unseen), (unseen - norm.mean) / norm.std,
                               rtol=1e-5)


def test_utterance_and_none_modes(fold):
    features, speakers, train = fold
    utt = FeatureNormalizer.fit(features, train, speakers, "utterance")
    out = utt.transform("B2", features["B2"])
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)
    same = FeatureNormalizer.fit(features, train, speakers, "none").transform("B2", features["B2"])
    np.testing.assert_array_equal(same, features["B2"])
    with pytest.raises(ValueError, match="unknown normalization 'minmax'"):
        FeatureNormalizer.fit(features, train, speakers, "minmax")


@pytest.mark.parametrize("mode", ["none", "utterance", "speaker", "global"])
def test_normalizer_round_trips_through_json(fold, mode):
    features, speakers, train = fold
    norm = FeatureNormalizer.fit(features, train, speakers, mode)
    again = FeatureNormalizer.from_dict(json.loads(json.dumps(norm.to_dict())))
    for uid in ["A1", "C3", "unseen"]:
        arr = features.get(uid, features["C0"])
        np.testing.assert_allclose(again.transform(uid, arr), norm.transform(uid, arr), rtol=1e-6)


def test_feature_config_key_ignores_normalization_only():
    base = FeatureConfig()
    assert dataclasses.replace(base, normalization="none").key() == base.key()
    assert dataclasses.replace(base, hop_ms=20.0).key() != base.key()
    assert FeatureConfig(kind="logmel").key().startswith("logmel-")


def test_prosody_by_class_averages_each_class_frames():
    config = FeatureConfig()
    features = {"low": extract_features(voice(150, amplitude=0.1), config),
                "high": extract_features(voice(300, amplitude=0.4), config),
                "high2": extract_features(voice(300, amplitude=0.4, seed=1), config)}
    table = prosody_by_class(features, {"low": "sad", "high": "angry", "high2": "angry"})
    assert list(table) == ["angry", "sad"]
    assert np.exp(table["sad"]["log_f0"]) == pytest.approx(150, rel=0.02)
    assert np.exp(table["angry"]["log_f0"]) == pytest.approx(300, rel=0.02)
    assert table["angry"]["log_energy"] - table["sad"]["log_energy"] == pytest.approx(np.log(4),
                                                                                      abs=0.1)


def test_leftovers_of_dead_runs_and_older_manifests_are_removed(tmp_path):
    manifest, release = make_corpus(tmp_path, count=4, unlabelled=())
    out = cache_dir(manifest, FeatureConfig())
    out.mkdir(parents=True)
    dead = out / "shard-00000-deadbeef.npz.999999999.tmp"  # no such process
    live = out / f"shard-00000-cafecafe.npz.{os.getpid()}.tmp"  # a run still writing
    old = out / "shard-00007-0ldshard.npz"
    for path in (dead, live, old):
        path.write_bytes(b"partial")
    build_cache(manifest, release, FeatureConfig(), workers=1, chunk_size=2, progress=False)
    assert not dead.exists() and not old.exists() and live.exists()
    assert len(load_features(out)) == 4


@pytest.mark.parametrize("rate", [8000, 22050, 44100])
def test_other_sample_rates_keep_the_10ms_grid_and_the_pitch(rate):
    config = FeatureConfig(sample_rate=rate)
    t = np.arange(int(1.5 * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    features = extract_features(wave, config)
    assert features.shape == (1 + len(wave) // round(rate / 100), 42)
    np.testing.assert_allclose(np.exp(features[5:-5, -3]), 220, rtol=0.02)


# ---------------------------------------------------------------------------------------------
# Issue 10: nothing non-finite, damaged markers, workers end with their parent


def test_extract_features_refuses_a_non_finite_waveform():
    wave = voice()
    wave[100] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        extract_features(wave, FeatureConfig())


def test_a_nan_wav_stops_the_cache_naming_it_and_nothing_non_finite_is_cached(tmp_path):
    manifest, release = make_corpus(tmp_path, count=4, unlabelled=())
    bad = next(release.rglob("*_M003.wav"))
    wave = voice(seconds=0.9)
    wave[500:600] = np.nan
    sf.write(bad, wave, RATE, subtype="FLOAT")
    with pytest.raises(FeatureExtractionError, match=r"M003 \(manifest line 5, file .*M003\.wav\)"
                                                     r".*100 non-finite samples"):
        build_cache(manifest, release, FeatureConfig(), workers=1, chunk_size=1, progress=False)
    out = cache_dir(manifest, FeatureConfig())
    from emokit.data.feature_cache import read_shard

    for shard in out.glob("shard-*.npz"):
        assert all(np.isfinite(a).all() for a in read_shard(shard).values())


def test_a_cache_never_holds_non_finite_features(tmp_path):
    from emokit.data.feature_cache import read_shard, write_shard

    with pytest.raises(ValueError, match="non-finite"):
        write_shard(tmp_path / "shard.npz", {"a": np.full((3, 2), np.nan, np.float32)})
    assert not (tmp_path / "shard.npz").exists()
    with open(tmp_path / "old.npz", "wb") as f:  # a shard written by an older kit
        np.savez(f, features=np.array([[np.nan]], np.float32), offsets=np.array([0, 1]),
                 ids=np.array(["a"]))
    with pytest.raises(ValueError, match=r"old\.npz is corrupt \(non-finite features.*delete"):
        read_shard(tmp_path / "old.npz")


def test_normalizer_refuses_non_finite_features_instead_of_spreading_them():
    features = {"a": np.ones((4, 2), np.float32), "b": np.ones((4, 2), np.float32)}
    features["b"][1, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf, e\.g\. \['b'\]"):
        FeatureNormalizer.fit(features, ["a"], {"a": "s1", "b": "s1"}, "speaker")


def test_a_damaged_complete_marker_is_named_and_build_cache_rebuilds_it(tmp_path):
    manifest, release = make_corpus(tmp_path, count=4)
    out = build_cache(manifest, release, FeatureConfig(), workers=1, chunk_size=2, progress=False)
    marker = out / "complete.json"
    marker.write_text(marker.read_text()[:40])  # cut short by an older, non-atomic writer
    with pytest.raises(ValueError, match=r"complete\.json is corrupt .*delete .*complete\.json"):
        load_features(out)
    build_cache(manifest, release, FeatureConfig(), workers=1, chunk_size=2, progress=False)
    assert len(load_features(out)) == 4


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_end_when_their_parent_is_killed(tmp_path):
    """SIGKILL `python -m data_prep.features --workers 2` while both workers are blocked opening
    a named pipe: the workers must not outlive it."""
    manifest, release = make_corpus(tmp_path, count=4, unlabelled=())
    for uid in ("F000", "M001"):
        pipe = next(release.rglob(f"*_{uid}.wav"))
        pipe.unlink()
        os.mkfifo(pipe)
    command = [sys.executable, "-m", "data_prep.features", "--manifest", str(manifest), "--root",
               str(release), "--workers", "2", "--chunk-size", "1"]
    run = subprocess.Popen(command, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and run.poll() is None:
            workers = [p for p in _children(run.pid)
                       if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text(errors="ignore")]
            if len(workers) == 2:
                break
            time.sleep(0.1)
        assert len(workers) == 2, "the two workers did not start"
        time.sleep(3)  # let them warm up and block on the pipes
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [p for p in workers if _alive(p)]
    for pid in survivors:  # do not leave them behind on a failure
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"workers {survivors} outlived their killed parent"


# ------------------------------------------------------------------ issue 16: places and paths


def test_a_full_disk_is_one_line_naming_the_cache_no_temp_files_and_the_rerun_resumes(
        tmp_path, monkeypatch):
    import errno

    from emokit.core.atomic import StorageError

    manifest, release = make_corpus(tmp_path, count=6, unlabelled=())
    real_savez, calls = np.savez, []

    def savez_until_full(f, **arrays):
        calls.append(1)
        if len(calls) > 1:  # the second shard meets a full disk halfway
            f.write(b"half a shard")
            raise OSError(errno.ENOSPC, "No space left on device")
        real_savez(f, **arrays)

    monkeypatch.setattr(np, "savez", savez_until_full)
    with pytest.raises(StorageError, match=r"cannot write the feature cache in .*features.*\(the "
                                           r"disk is full.*run again"):
        build_cache(manifest, release, FeatureConfig(), workers=1, chunk_size=2, progress=False)
    out = cache_dir(manifest, FeatureConfig())
    assert not list(out.glob("*.tmp")) and len(shard_stats(out)) == 1
    finished = shard_stats(out)
    monkeypatch.setattr(np, "savez", real_savez)
    build_cache(manifest, release, FeatureConfig(), workers=1, chunk_size=2, progress=False)
    after = shard_stats(out)
    assert len(after) == 3 and all(after[name] == s for name, s in finished.items())


def test_a_manifest_row_leading_outside_its_release_is_refused(tmp_path):
    from emokit.core.errors import DataError
    from emokit.data.manifest import read_manifest

    manifest, release = make_corpus(tmp_path, count=3, unlabelled=())
    rows = read_manifest(manifest)
    outside = tmp_path / "elsewhere.wav"
    sf.write(outside, voice(150, 0.6, seed=9), RATE)
    rows[1] = dataclasses.replace(rows[1], wav="../elsewhere.wav")
    write_manifest(rows, manifest)
    with pytest.raises(DataError, match=r"manifest.csv line 3: wav .*elsewhere.wav lies outside "
                                        r"the release"):
        build_cache(manifest, release, FeatureConfig(), workers=1, progress=False)


def test_atomic_writes_honour_the_umask(tmp_path):
    from emokit.core.atomic import write_atomic

    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.json", "{}")
        os.umask(0o002)
        write_atomic(tmp_path / "b.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o664


def test_tensorflows_full_disk_error_is_a_storage_error(tmp_path):
    from emokit.core.atomic import storage_error

    class ResourceExhaustedError(Exception):
        pass

    error = storage_error(ResourceExhaustedError(f"{tmp_path}/ckpt.data; No space left on "
                                                 "device"), tmp_path, "a checkpoint")
    assert error is not None and "(the disk is full" in str(error) and "\n" not in str(error)
    assert storage_error(ValueError("a bug"), tmp_path, "x") is None


def test_an_all_silent_release_names_every_file_in_one_run(tmp_path):
    manifest, release = make_corpus(tmp_path, count=5, unlabelled=())
    for wav in release.rglob("*.wav"):
        sf.write(wav, np.zeros(RATE // 2, "float32"), RATE)
    with pytest.raises(FeatureExtractionError, match=r"^5 utterance\(s\) could not be extracted") \
            as err:
        build_cache(manifest, release, FeatureConfig(), workers=1, chunk_size=2, progress=False)
    assert str(err.value).count("is silent") == 5
