"""The caches of the pretrained encoders' codes (:mod:`emokit.data.hub_encoders`).

* Audio (``FeatureConfig.kind: "hub"``): ``data_prep.features.build_cache`` writes the Whisper
  frame codes ``(frames, hidden)`` into the feature cache (its folder named by
  ``FeatureConfig.key()``, which hashes ``hub_preset`` and ``hub_layer``), shard by shard, with
  :func:`extract_audio_chunks`: in this process, the encoder loaded once and fed
  ``hub_encoders.BATCH_SIZE`` utterances at a time.
* Text (``TextConfig.hub_preset``): :func:`build_text_cache` writes each transcript's token codes
  ``(tokens, hidden)`` into ``<manifest folder>/text_codes/<TextConfig.hub_key()>/`` in the feature
  cache's format (shards, then ``complete.json``), read back with
  ``emokit.data.feature_cache.load_features``. Idempotent and resumable like the feature cache.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from emokit.config import FeatureConfig, TextConfig
from emokit.core.atomic import write_atomic
from emokit.core.lock import data_lock
from emokit.data.audio import load_audio
from emokit.data.feature_cache import COMPLETE_MARKER, write_shard
from emokit.data.manifest import read_manifest

CHUNK_SIZE = 64  # utterances per shard


def extract_audio_chunks(todo: dict, out: Path, config: FeatureConfig, progress: bool) -> list:
    """Write the shard of each chunk ``{shard name: [items with .id, .wav, .line]}`` of Whisper
    codes; returns the utterances that failed (one line each). Says how many utterances were over
    30 s (encoded in consecutive 30 s windows)."""
    from emokit.core.optional import progress_bar
    from emokit.data.hub_encoders import audio_encoder

    encoder = audio_encoder(config)
    failures, windowed = [], 0
    bar = progress_bar()(total=sum(map(len, todo.values())), unit="utt", disable=not progress,
                         file=sys.stdout)
    with bar:
        for name, items in todo.items():
            waves, chunk_failures = {}, []
            for item in items:
                try:
                    waves[item.id] = load_audio(item.wav, config.sample_rate)
                except Exception as e:  # noqa: BLE001 -- any failure is reported with its file
                    chunk_failures.append(f"utterance {item.id} (manifest line {item.line}, file "
                                          f"{item.wav}): {str(e)[:300]}")
            if not chunk_failures:
                windowed += sum(encoder.is_windowed(w) for w in waves.values())
                write_shard(out / name, dict(zip(waves, encoder(list(waves.values())))))
            failures += chunk_failures
            bar.update(len(items))
    if windowed and progress:
        print(f"{windowed} utterance(s) over 30 s (Whisper's window): encoded in consecutive 30 s "
              "windows, each window's real frames concatenated (ceil(seconds x 50) frames; no "
              "attention across a window's edge)", flush=True)
    return failures


def text_cache_dir(manifest_path: str | Path, config: TextConfig, cache_root=None) -> Path:
    """Where :func:`build_text_cache` puts the text codes of ``manifest_path``."""
    root = Path(cache_root) if cache_root is not None else Path(manifest_path).parent / "text_codes"
    return root / config.hub_key()


def build_text_cache(manifest_path: str | Path, config: TextConfig, cache_root=None,
                     progress: bool = True, outside_class_set: bool = False) -> Path:
    """Cache the ``(tokens, hidden)`` codes of the transcripts of every labelled manifest row
    (with ``outside_class_set`` the other rows too) under ``config.hub_preset``; returns the
    folder. An up-to-date cache is left alone; finished shards of a killed run are kept."""
    manifest_path = Path(manifest_path).expanduser()
    out = text_cache_dir(manifest_path, config, cache_root)
    rows = [row for row in read_manifest(manifest_path)
            if row.label or (outside_class_set and row.wav)]
    chunks = {}
    for index, start in enumerate(range(0, len(rows), CHUNK_SIZE)):
        chunk = rows[start:start + CHUNK_SIZE]
        digest = hashlib.sha256("\n".join(f"{r.id}|{r.transcript}" for r in chunk).encode())
        chunks[f"shard-{index:05d}-{digest.hexdigest()[:8]}.npz"] = chunk
    inputs = hashlib.sha256("\n".join(chunks).encode()).hexdigest()
    if _is_done(out, inputs):
        return out
    with data_lock(out, "a text-code cache"):
        if _is_done(out, inputs):
            return out
        (out / COMPLETE_MARKER).unlink(missing_ok=True)
        for stale in out.glob("shard-*.npz"):
            if stale.name not in chunks:
                stale.unlink()
        todo = {name: chunk for name, chunk in chunks.items() if not (out / name).exists()}
        if progress:
            print(f"text codes of {sum(map(len, todo.values()))} transcripts into {out} "
                  f"(preset {config.hub_preset!r})", flush=True)
        if todo:
            from emokit.data.hub_encoders import text_encoder

            encoder = text_encoder(config.hub_preset)
            write_atomic(out / "config.json", json.dumps(
                {"hub_preset": config.hub_preset, "hidden_dim": encoder.hidden_dim}, indent=1))
            for name, chunk in todo.items():
                codes = encoder([row.transcript for row in chunk])
                write_shard(out / name, {row.id: code for row, code in zip(chunk, codes)})
        write_atomic(out / COMPLETE_MARKER, json.dumps({
            "inputs": inputs,
            "shards": [{"file": name, "ids": [row.id for row in chunk]}
                       for name, chunk in chunks.items()]}, indent=1))
    return out


def _is_done(out: Path, inputs: str) -> bool:
    try:
        done = json.loads((out / COMPLETE_MARKER).read_text())
        return done["inputs"] == inputs and all((out / s["file"]).exists()
                                                for s in done["shards"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
