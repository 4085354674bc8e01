"""``python -m emokit.experiment``: see :mod:`emokit.experiment.cli`."""

from emokit.experiment.cli import main

raise SystemExit(main())
