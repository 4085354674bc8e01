"""Notebook 09's checker (pretrained encoders), re-exported by :mod:`emokit.course.exercises` as
``exercises.notebook09``; kept apart so that each module stays short."""

from __future__ import annotations

import dataclasses

from emokit.course.checking import check

FRAMES_PER_SECOND = 50  # Whisper's encoder frames per second of audio


def notebook09(answer_1, answer_2, *, features, rows) -> dict[str, str]:
    """09 pretrained encoders: how many numbers one second of audio takes in the cache with
    ``features.hub_layers: "weighted"`` (the notebook's Whisper, ``features``), and which system
    of the table ``rows`` (``run_experiment``'s) has the highest UA."""
    from emokit.data.hub_encoders import audio_encoder

    whisper = audio_encoder(dataclasses.replace(features, hub_layers="weighted", hub_layer=-1))
    layers, hidden = whisper.num_layers, whisper.hidden_dim
    per_second = FRAMES_PER_SECOND * (layers + 1) * hidden
    names = [row.system for row in rows]
    best = max(row.ua[0] for row in rows)
    top = [row.system for row in rows if row.ua[0] == best]
    lowest = min(rows, key=lambda row: row.ua[0]).system
    by_wa = max(rows, key=lambda row: row.wa[0]).system
    return {
        "1": check("1", answer_1, per_second,
                   hints=[(FRAMES_PER_SECOND * layers * hidden,
                           "count the embeddings too: layers + 1 states side by side"),
                          ((layers + 1) * hidden, "that is one frame: a second holds 50"),
                          (2 * per_second, "the encoder gives 50 frames per second (the "
                                           "log-mel's 100, halved by a stride-2 convolution)"),
                          (4 * per_second, "that is bytes (float32): the question asks for "
                                           "numbers"),
                          (FRAMES_PER_SECOND * hidden, "that is one layer's cost: "
                                                       "`hub_layers: weighted` keeps them all")],
                   hint="frames per second x states per frame (the layers and the embeddings) "
                        "x the width of each state"),
        "2": check("2", answer_2, accept=lambda a: a in top,
                   hints=[(lambda a: a not in names, f"one of the table's systems: {names}"),
                          (lambda a: a == lowest and a not in top,
                           "that one has the lowest UA"),
                          (lambda a: a == by_wa and a not in top,
                           "that one has the highest WA; the question asks for UA")],
                   hint="read the UA column of section 3's table (or `row.ua[0]` of `rows`)"),
    }
