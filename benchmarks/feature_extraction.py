"""How much faster than real time the feature cache is built (target: >= 200x on 2 cores).

    python benchmarks/feature_extraction.py [--size iemocap] [--workers N] [--kind mfcc]

Generates the built-in corpus once (``--size iemocap``: about 7 h of audio, IEMOCAP's 5,531
four-class turns) under ``--corpus`` and times the whole ``data_prep.features.build_cache`` run
(decode, features, shard writes, process start-up included) into a fresh cache folder, after one
warm-up pass over the files (so the page cache, not the disk, feeds the decoder). Then it splits
one core's time into decode / features / write on a sample of utterances.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from data_prep.features import build_cache
from data_prep.synthetic_writer import COMPLETE_MARKER, generate
from emokit.config import CorpusConfig, FeatureConfig
from emokit.data.audio import load_audio
from emokit.data.feature_cache import load_features, write_shard
from emokit.data.features import extract_features
from emokit.data.manifest import read_manifest, write_manifest


def ensure_benchmark_corpus(folder: Path, size: str) -> Path:
    """The manifest of a built-in corpus of ``size`` under ``folder`` (generated once)."""
    from data_prep.iemocap import parse_release

    if not (folder / COMPLETE_MARKER).exists() or not (folder / "manifest.csv").exists():
        print(f"generating the {size} corpus into {folder} (once) ...", flush=True)
        root = generate(folder, CorpusConfig(synthetic_size=size))
        write_manifest(parse_release(root), folder / "manifest.csv")
    return folder / "manifest.csv"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        names = [ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln]
        cpu = names[0].split(":", 1)[1].strip()
    except (OSError, IndexError):
        pass
    return f"{platform.platform()}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def stage_split(rows, root: Path, config: FeatureConfig, sample: int) -> dict[str, float]:
    """Seconds per second of audio spent in each stage, on one core."""
    rows = rows[:sample]
    audio = sum(r.duration for r in rows)
    start = time.perf_counter()
    waves = {r.id: load_audio(root / r.wav, config.sample_rate) for r in rows}
    decoded = time.perf_counter()
    features = {uid: extract_features(w, config) for uid, w in waves.items()}
    extracted = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_shard(Path(tmp) / "shard.npz", features)
    written = time.perf_counter()
    return {"decode": audio / (decoded - start), "features": audio / (extracted - decoded),
            "write": audio / (written - extracted), "audio_s": audio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="iemocap", choices=["mini", "iemocap"])
    parser.add_argument("--corpus", default=os.path.join(tempfile.gettempdir(), "emokit_bench"),
                        help="where the benchmark corpus is generated (kept between runs)")
    parser.add_argument("--workers", type=int, default=None, help="default: every core")
    parser.add_argument("--kind", default="mfcc", choices=["mfcc", "logmel"])
    args = parser.parse_args()
    config = dataclasses.replace(FeatureConfig(), kind=args.kind)

    manifest = ensure_benchmark_corpus(Path(args.corpus) / args.size, args.size)
    from data_prep.synthetic import release_root

    root = release_root(manifest)
    rows = read_manifest(manifest, labelled_only=True)
    hours = sum(r.duration for r in rows) / 3600
    print(f"machine: {machine()}")
    print(f"corpus: {len(rows)} labelled utterances, {hours:.2f} h of audio ({manifest})")
    print(f"load average before: {os.getloadavg()}")

    for row in rows:  # warm-up: the files come from the page cache, as on a second run
        (root / row.wav).read_bytes()
    cache_root = Path(tempfile.mkdtemp(prefix="emokit_bench_cache_"))
    try:
        start = time.perf_counter()
        out = build_cache(manifest, root, config, cache_root, workers=args.workers)
        took = time.perf_counter() - start
        start = time.perf_counter()
        features = load_features(out, [r.id for r in rows])
        load_took = time.perf_counter() - start
        size_mb = sum(p.stat().st_size for p in out.glob("shard-*")) / 1e6
    finally:
        shutil.rmtree(cache_root, ignore_errors=True)
    frames = sum(len(f) for f in features.values())
    print(f"load average after: {os.getloadavg()}")
    print(f"build_cache: {took:.1f} s for {hours * 3600:.0f} s of audio -> "
          f"{hours * 3600 / took:.0f}x faster than real time "
          f"(workers={args.workers or os.cpu_count()}, kind={args.kind})")
    print(f"load_features: {len(features)} utterances, {frames} frames, {size_mb:.0f} MB in "
          f"{load_took:.2f} s")
    split = stage_split(rows, root, config, sample=300)
    print(f"one core, {split['audio_s']:.0f} s of audio: decode {split['decode']:.0f}x, "
          f"features {split['features']:.0f}x, write {split['write']:.0f}x real time")
    print(f"feature values finite: {all(np.isfinite(f).all() for f in features.values())}")


if __name__ == "__main__":
    main()
