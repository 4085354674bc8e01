"""Every command line: a user error prints `error: ...` without a traceback (exit 2 for usage and
config, 1 for data); a bug keeps its traceback."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emokit.core.cli import run_cli
from emokit.core.errors import ConfigError, DataError, UsageError

REPO = Path(__file__).resolve().parent.parent


def test_run_cli_sorts_user_errors_from_bugs(capsys):
    def failing(error):
        def main(argv):
            raise error
        return main

    assert run_cli(failing(ConfigError(["train.epochs: 0 is not allowed"])), []) == 2
    assert run_cli(failing(UsageError("--root is not a release")), []) == 2
    assert run_cli(failing(DataError("x.wav is truncated")), []) == 1
    assert run_cli(failing(FileNotFoundError("no manifest at m.csv")), []) == 1
    err = capsys.readouterr().err
    assert "error: 1 problem(s) in the config:\n  train.epochs" in err and "Traceback" not in err
    with pytest.raises(ZeroDivisionError):  # a bug is not hidden
        run_cli(failing(ZeroDivisionError("bug")), [])


def _run(module: str, *args: str, cwd: Path = REPO):
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_experiment_cli_reports_a_bad_config_without_traceback(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("train:\n  epochs: 0\n  learning_rate: fast\nfolds: []\nmodel:\n"
                      "  modalities: audio\n")
    run = _run("emokit.experiment", "--config", str(config), "--results", str(tmp_path))
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    for name in ("train.epochs", "train.learning_rate", "folds", "model.modalities"):
        assert f"  {name}:" in run.stderr
    assert not (tmp_path / "bad").exists()  # nothing was started


def test_data_prep_clis_report_user_errors_without_traceback(tmp_path):
    from data_prep import features, iemocap

    assert iemocap.main(["--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m.csv")]) \
        == 2
    assert features.main(["--manifest", str(tmp_path / "none.csv")]) == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("features:\n  hop_ms: -10\n")
    assert features.main(["--manifest", str(tmp_path / "none.csv"), "--config", str(bad)]) == 2


def test_feature_cli_names_a_nan_wav_and_exits_1(tmp_path, capsys):
    from data_prep import features
    from emokit.data.manifest import Utterance, write_manifest

    wave = (0.1 * np.sin(np.arange(16000) / 5.0)).astype("float32")
    wave[10] = np.nan
    (tmp_path / "r").mkdir()
    sf.write(tmp_path / "r" / "a.wav", wave, 16000, subtype="FLOAT")
    row = Utterance("Ses01F_impro01_F000", 1, "Ses01F_impro01", "Ses01F", "F", "impro", "neu",
                    "neutral", 0.0, 1.0, 3.0, 3.0, 3.0, "hi", "a.wav", 1.0, 16000)
    manifest = write_manifest([row], tmp_path / "manifest.csv")
    assert features.main(["--manifest", str(manifest), "--root", str(tmp_path / "r"),
                          "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "a.wav holds 1 non-finite samples" in err and "Traceback" not in err


# TensorFlow's own start-up lines (absl logs printed before logging is set up; the full
# `tensorflow` wheel prints them whatever TF_CPP_MIN_LOG_LEVEL says): not emokit's output
_TF_STARTUP = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|"
                         r"[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\])")


def _emokit_lines(stderr: str) -> list[str]:
    return [line for line in stderr.strip().splitlines() if not _TF_STARTUP.match(line)]


def test_a_file_where_the_experiment_folder_goes_is_one_line(tmp_path):
    (tmp_path / "taken").write_text("notes")
    run = _run("emokit.experiment", "--results", str(tmp_path), "--name", "taken")
    assert run.returncode == 2, run.stderr
    lines = _emokit_lines(run.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    assert f"{tmp_path / 'taken'} is a file, not a folder" in lines[0] and "--name" in lines[0]
    assert (tmp_path / "taken").read_text() == "notes"


def test_a_full_disk_while_caching_features_is_one_line_and_nothing_after_it(
        tmp_path, monkeypatch, capsys):
    """The cache's zip file is closed on the failure: no 'Exception ignored in ZipFile.__del__'
    traceback is printed after the error line."""
    import builtins
    import errno
    import gc

    from data_prep import features
    from emokit.data import feature_cache
    from emokit.data.manifest import Utterance, write_manifest

    (tmp_path / "r").mkdir()
    sf.write(tmp_path / "r" / "a.wav", 0.1 * np.sin(np.arange(16000) / 5.0), 16000)
    row = Utterance("Ses01F_impro01_F000", 1, "Ses01F_impro01", "Ses01F", "F", "impro", "neu",
                    "neutral", 0.0, 1.0, 3.0, 3.0, 3.0, "hi", "a.wav", 1.0, 16000)
    manifest = write_manifest([row], tmp_path / "manifest.csv")

    class FullDisk:
        """A file whose writes meet a full disk once 100 bytes are written."""

        def __init__(self, f):
            self.f, self.written = f, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 100:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def full_open(path, mode="r", *args, **kwargs):
        f = builtins.open(path, mode, *args, **kwargs)
        return FullDisk(f) if str(path).endswith(".tmp") else f

    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    monkeypatch.setattr(feature_cache, "open", full_open, raising=False)
    assert features.main(["--manifest", str(manifest), "--root", str(tmp_path / "r"),
                          "--workers", "1"]) == 1
    gc.collect()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "disk is full" in err and "Traceback" not in err, err
    assert unraisable == [], [u.exc_value for u in unraisable]
