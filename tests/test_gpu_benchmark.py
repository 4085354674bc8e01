"""benchmarks/gpu.py --smoke runs the whole GPU benchmark on the CPU on tiny data, and
emokit.training.runtime's accelerator settings keep XLA away from cuDNN's GRU kernel."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emokit.config import ExperimentConfig
from emokit.training.runtime import runtime_report, use_accelerator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


@pytest.mark.slow
def test_smoke_run_reports_every_section(tmp_path):
    out = tmp_path / "gpu.json"
    env = {**os.environ, "EMOKIT_RESULTS": str(tmp_path), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--smoke", "--json", str(out)]
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["smoke"] and result["device"]["gpus"] == []  # --smoke hides any GPU
    variants = {(r["precision"], r["xla"]) for r in result["steps"]}
    assert variants == {("float32", False), ("float32", True), ("mixed_float16", False),
                        ("mixed_float16", True)}
    assert all(r["step_ms"] > 0 for r in result["steps"])  # on the CPU every variant runs
    cudnn = result["cudnn"]
    assert cudnn["masks_right_padded"] and cudnn["batches_checked"] > 0
    assert not cudnn["fused"] and cudnn["cudnn_rnn_ops_in_step"] == 0  # no GPU: generic loop
    assert cudnn["while_loops_in_step"] >= 2  # the GRUs' loops are in the traced step
    assert [r["system"] for r in result["fold"]] == ["baseline", "contrastive"]
    for row in result["fold"]:
        assert row["steady_epoch_seconds"] > 0 and row["memory_peak_mb"] > 0
        assert np.isfinite(row["final_loss"])
    projection = result["full_projection"]
    assert projection["runs"] == 225  # 15 systems x 5 folds x 3 seeds
    assert 0 < projection["hours_at_shortest_stop"] < projection["hours_at_epoch_cap"]
    assert "| contrastive | mixed_float16 | on |" in run.stdout


def test_right_padded_is_what_cudnn_asserts():
    from gpu import right_padded

    assert right_padded(np.array([[True, True, False], [True, False, False]]))
    assert not right_padded(np.array([[False, True, True]]))  # left padding
    assert not right_padded(np.array([[True, False, True]]))  # a hole
    assert not right_padded(np.array([[True, True], [False, False]]))  # a fully masked row


def test_use_accelerator_turns_on_mixed_precision_not_xla():
    config = use_accelerator(ExperimentConfig(), gpu_count=1)
    assert config.train.mixed_precision and not config.train.xla
    assert config.pipeline.batch_size == 4 * ExperimentConfig().pipeline.batch_size
    assert config.train.accelerator == "gpu"
    assert use_accelerator(ExperimentConfig(), gpu_count=0) == ExperimentConfig()
    off = ExperimentConfig()
    off.train.accelerator = "off"
    assert use_accelerator(off, gpu_count=1) == off


def test_runtime_report_lists_the_optional_pieces():
    report = runtime_report()
    assert report["tensorboard"] == "available"  # a dev dependency
    assert report["ipywidgets"] in ("available",
                                    'not installed (pip install "emokit[notebooks]")')
