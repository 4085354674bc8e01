"""The experiment's table, as a notebook or the CLI shows it, is stamped "quick mode" in quick
mode only (emokit.experiment.runner._show_table, emokit.evaluation.presentation.quick_table)."""

import pytest

from emokit.evaluation.presentation import BANNER
from emokit.experiment import runner


@pytest.mark.parametrize("quick", ["1", "0"])
def test_the_shown_table_carries_the_quick_mode_stamp_in_quick_mode_only(quick, monkeypatch,
                                                                          capsys):
    monkeypatch.setenv("EMOKIT_QUICK", quick)
    runner._show_table("| system | UA |\n|---|---|\n| baseline | 60.0 |")
    shown = capsys.readouterr().out
    assert "| baseline | 60.0 |" in shown
    assert (BANNER in shown) == (quick == "1")
