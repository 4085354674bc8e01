"""emokit.core.optional: a missing optional piece is named, with its install command, before any work."""

import sys

import numpy as np
import pytest
from _fake_batches import FEATURE_DIM, NUM_CLASSES, VOCAB_SIZE, fake_dataset

from emokit.config import ModelConfig, TrainConfig
from emokit.core import optional
from emokit.core.optional import MissingOptionalDependency, progress_bar, require
from emokit.model.emotion_model import build_model
from emokit.training.loop import fit

TINY = ModelConfig(latent_dim=8, audio_conv_filters=4, audio_conv_kernel=3, audio_rnn_units=4,
                   text_rnn_units=4, discriminator_units=8, contrastive_weight=0.5)


def make_unimportable(monkeypatch, module):
    """``import module`` (and its submodules) raises ImportError, as when it is not installed."""
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)


def test_fit_with_tensorboard_dir_fails_before_training_without_tensorboard(tmp_path,
                                                                            monkeypatch):
    make_unimportable(monkeypatch, "tensorboard")
    model = build_model(TINY, FEATURE_DIM, VOCAB_SIZE, NUM_CLASSES, seed=0)
    before = [w.copy() for w in model.get_weights()]
    config = TrainConfig(epochs=1, verbose=0, tensorboard_dir=str(tmp_path / "tb"),
                         checkpoint_dir=str(tmp_path / "ckpt"))
    with pytest.raises(MissingOptionalDependency,
                       match=r"tensorboard_dir=.*needs tensorboard.*pip install tensorboard.*"
                             r"emokit\[tensorboard\]"):
        fit(model, fake_dataset(16, 8), fake_dataset(8, 8, seed=1), config)
    assert not (tmp_path / "tb").exists() and not (tmp_path / "ckpt").exists()
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_fit_without_tensorboard_dir_does_not_need_tensorboard(monkeypatch):
    make_unimportable(monkeypatch, "tensorboard")
    model = build_model(TINY, FEATURE_DIM, VOCAB_SIZE, NUM_CLASSES, seed=0)
    history = fit(model, fake_dataset(16, 8), fake_dataset(8, 8, seed=1),
                  TrainConfig(epochs=1, verbose=0))
    assert history["epochs_run"] == 1


def test_require_passes_for_an_installed_module():
    require("tensorboard", "TrainConfig.tensorboard_dir")  # a dev dependency: installed


@pytest.fixture
def in_notebook(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", sys.modules.get("ipykernel.zmqshell",
                                                                           object()))
    monkeypatch.setattr(optional, "_told_about_widgets", False)


def test_progress_bar_in_a_terminal_is_the_text_bar(monkeypatch):
    from tqdm.std import tqdm

    monkeypatch.delitem(sys.modules, "ipykernel.zmqshell", raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert progress_bar() is tqdm


def test_progress_bar_into_a_file_prints_plain_lines(monkeypatch, capsys):
    """stdout is not a terminal (a log file, CI): one plain line per tenth done, no \\r frames."""
    monkeypatch.delitem(sys.modules, "ipykernel.zmqshell", raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    bar_class = progress_bar()
    with bar_class(total=20, initial=2, desc="runs", file=sys.stdout) as bar:
        for _ in range(18):
            bar.update()
        bar.write("a message")
    out = capsys.readouterr().out
    assert "\r" not in out
    lines = out.splitlines()
    assert lines[0] == "runs: 4/20 (20%)" and lines[-2:] == ["runs: 20/20 (100%)", "a message"]
    assert len(lines) == 10  # 20% ... 100%, then the message
    with bar_class(total=4, unit="utt") as utterances:
        utterances.update(4)
    assert capsys.readouterr().out == "4/4 utt (100%)\n"
    with bar_class(total=5, disable=True) as quiet:
        quiet.update(5)
    assert capsys.readouterr().out == ""


def test_progress_bar_in_a_notebook_without_ipywidgets_says_so_once(in_notebook, monkeypatch,
                                                                    capsys):
    from tqdm.std import tqdm

    make_unimportable(monkeypatch, "ipywidgets")
    assert progress_bar() is tqdm and progress_bar() is tqdm
    assert capsys.readouterr().out.count("ipywidgets is not installed") == 1


def test_progress_bar_in_a_notebook_with_ipywidgets_draws_widgets(in_notebook):
    pytest.importorskip("ipywidgets")
    from tqdm.notebook import tqdm

    assert progress_bar() is tqdm


def test_the_extras_named_in_messages_exist():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    for package, extra in optional.PIECES.values():
        assert any(r.startswith(package) for r in extras[extra]), (package, extra)
