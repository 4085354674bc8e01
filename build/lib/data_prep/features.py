"""Extract a manifest's audio features into a cache, on all cores, resumably.

    python -m data_prep.features --manifest data/synthetic_mini_seed0/manifest.csv \\
        [--root RELEASE_ROOT] [--workers N] [--kind mfcc] [--config experiment.yaml]

The cache of a manifest lives in ``<manifest folder>/features/<FeatureConfig.key()>/`` (or under
``--cache-root``), so every corpus and every feature setting has its own. It holds

* ``config.json``: the feature settings it was built with;
* ``shard-NNNNN-<hash>.npz``: the features of one chunk of utterances (one float32 block plus
  offsets), written to a temp name and renamed, so a shard on disk is always whole;
* ``complete.json``: written last, listing every shard and its ids. ``load_features`` refuses a
  cache without it.

Every labelled manifest row (``label != ""``) is extracted. Re-running with the same settings does
nothing; a run that was killed resumes, keeping the shards it finished; a bad file stops the run
with an error naming it and its manifest line, keeping the finished shards.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

from data_prep._workers import end_with_parent
from emokit.config import ExperimentConfig, FeatureConfig
from emokit.core.atomic import storage_error, write_atomic
from emokit.core.cli import run_cli
from emokit.core.errors import DataError
from emokit.core.lock import data_lock
from emokit.data.audio import load_audio
from emokit.data.feature_cache import COMPLETE_MARKER, write_shard
from emokit.data.features import extract_features, feature_dim
from emokit.data.manifest import read_manifest

CHUNK_SIZE = 64  # utterances per shard: ~90 files for IEMOCAP's 5.5k labelled turns


class FeatureExtractionError(DataError):
    """One utterance could not be extracted; the message names its file and manifest line."""


@dataclasses.dataclass(frozen=True)
class _Item:
    id: str
    wav: str  # absolute path
    line: int  # manifest line (the header is line 1)


def cache_dir(manifest_path: str | Path, config: FeatureConfig, cache_root=None) -> Path:
    """Where ``build_cache`` puts the features of ``manifest_path`` for ``config``."""
    root = Path(cache_root) if cache_root is not None else Path(manifest_path).parent / "features"
    return root / config.key()


def build_cache(manifest_path: str | Path, release_root: str | Path, config: FeatureConfig,
                cache_root=None, workers: int | None = None, chunk_size: int = CHUNK_SIZE,
                progress: bool = True, outside_class_set: bool = False) -> Path:
    """Extract the features of every labelled row of a manifest; returns the cache folder.

    ``outside_class_set``: also the rows outside the class set (frustrated, ..., no agreement), in
    shards of their own (the labelled shards stay valid): the unlabelled turns the pair loss sees
    under ``train.unlabelled_pairs``.

    Idempotent (an up-to-date cache is left alone) and resumable (finished shards are kept).
    ``workers`` processes share the work (default: every core; 1 runs in this process).
    Read the result with ``emokit.data.feature_cache.load_features(cache_folder, ids)``.
    """
    manifest_path = Path(manifest_path).expanduser()
    out = cache_dir(manifest_path, config, cache_root)
    chunks = _plan(manifest_path, Path(release_root).expanduser(), chunk_size, outside_class_set)
    if _is_up_to_date(out, chunks):
        _say(progress, f"feature cache {out} is up to date ({sum(map(len, chunks.values()))} "
                       f"utterances); nothing to do")
        return out
    try:
        with data_lock(out, "a feature cache"):  # a second process waits, then finds it done
            if _is_up_to_date(out, chunks):
                return out
            _build(manifest_path, out, chunks, config, workers, progress)
    except OSError as e:
        raise storage_error(e, out, "the feature cache") or e from None
    return out


def _build(manifest_path: Path, out: Path, chunks: dict[str, list[_Item]], config: FeatureConfig,
           workers, progress) -> None:
    """Extract the shards not on disk yet, then write the completion marker."""
    (out / COMPLETE_MARKER).unlink(missing_ok=True)
    dim = None if config.kind == "hub" else feature_dim(config)  # hub: the encoder's width
    write_atomic(out / "config.json", json.dumps({**dataclasses.asdict(config), "key": config.key(),
                                       "feature_dim": dim}, indent=1))
    _remove_stale_files(out, chunks)
    todo = {name: items for name, items in chunks.items() if not (out / name).exists()}
    _say(progress, f"extracting {sum(map(len, todo.values()))} utterances into {out} "
                   f"({len(chunks) - len(todo)} of {len(chunks)} shards already done)")
    if config.kind == "hub":  # one encoder in this process, batched (data_prep.hub_codes)
        from data_prep.hub_codes import extract_audio_chunks

        _raise_failures(extract_audio_chunks(todo, out, config, progress) if todo else [])
    else:
        _run(todo, out, config, workers, progress)
    write_atomic(out / COMPLETE_MARKER, json.dumps({
        "manifest": str(manifest_path.resolve()),
        "inputs": _inputs_digest(chunks),
        "shards": [{"file": name, "ids": [item.id for item in items]}
                   for name, items in chunks.items()],
    }, indent=1))


def _plan(manifest_path: Path, release_root: Path, chunk_size: int,
          outside_class_set: bool = False) -> dict[str, list[_Item]]:
    """Shard file name -> its utterances. A name hashes its rows, so a changed manifest re-plans.
    The labelled rows come first; with ``outside_class_set`` the others follow in ``shard-out-``
    shards."""
    rows = read_manifest(manifest_path)
    items = [_Item(row.id, str(release_root / row.wav), line)
             for line, row in enumerate(rows, start=2) if row.label]
    others = [_Item(row.id, str(release_root / row.wav), line)
              for line, row in enumerate(rows, start=2)
              if outside_class_set and not row.label and row.wav]
    outside = [item for item in (*items, *others)
               if not _is_inside(Path(item.wav), release_root)]
    if outside:
        first = outside[0]
        raise DataError(
            f"{manifest_path} line {first.line}: wav {first.wav} lies outside the release "
            f"{release_root} ({len(outside)} row(s) like it): a manifest lists files of its own "
            "release, with paths relative to it. Parse the release again "
            "(`python -m data_prep.iemocap`) or fix those rows")
    if not items:
        raise ValueError(f"{manifest_path} has no labelled rows to extract features from")
    return {**_shards(items, chunk_size, "shard"), **_shards(others, chunk_size, "shard-out")}


def _shards(items: list[_Item], chunk_size: int, prefix: str) -> dict[str, list[_Item]]:
    chunks = {}
    for index, start in enumerate(range(0, len(items), chunk_size)):
        chunk = items[start:start + chunk_size]
        digest = hashlib.sha256("\n".join(f"{i.id}|{i.wav}" for i in chunk).encode()).hexdigest()
        chunks[f"{prefix}-{index:05d}-{digest[:8]}.npz"] = chunk
    return chunks


def _is_inside(path: Path, folder: Path) -> bool:
    """True when ``path`` (links followed) lies inside ``folder``."""
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return True  # a path that cannot be resolved: reading it reports the file


def _remove_stale_files(out: Path, chunks: dict[str, list[_Item]]) -> None:
    """Delete shards of an older manifest and temp files of dead runs (not of a live one)."""
    for path in out.glob("shard-*"):
        if path.suffix == ".tmp":
            if not _is_alive(int(path.name.split(".")[-2])):
                path.unlink(missing_ok=True)
        elif path.name not in chunks:
            path.unlink(missing_ok=True)


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _inputs_digest(chunks: dict[str, list[_Item]]) -> str:
    """A hash of every (id, wav) to extract, whatever the chunking."""
    items = [f"{i.id}|{i.wav}" for items in chunks.values() for i in items]
    return hashlib.sha256("\n".join(items).encode()).hexdigest()


def _is_up_to_date(out: Path, chunks: dict[str, list[_Item]]) -> bool:
    marker = out / COMPLETE_MARKER
    if not marker.exists():
        return False
    try:
        done = json.loads(marker.read_text())
        return done.get("inputs") == _inputs_digest(chunks) and all(
            (out / shard["file"]).exists() for shard in done["shards"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return False  # a damaged marker: build_cache replaces it


def _run(todo: dict[str, list[_Item]], out: Path, config: FeatureConfig, workers, progress):
    from emokit.core.optional import progress_bar

    workers = min(workers or os.cpu_count() or 1, len(todo))
    bar = progress_bar()(total=sum(map(len, todo.values())), unit="utt", disable=not progress,
               file=sys.stdout)
    failures: list[str] = []  # every bad file, so that one run names them all
    with bar:
        if workers <= 1:
            for name, items in todo.items():
                done, failed = _extract_chunk(out / name, items, config)
                bar.update(done)
                failures += failed
            _raise_failures(failures)
            return
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                                 initializer=_warm_up, initargs=(config, os.getpid())) as pool:
            pending = {pool.submit(_extract_chunk, out / name, items, config)
                       for name, items in todo.items()}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    error = future.exception()
                    if isinstance(error, BrokenProcessPool):
                        raise FeatureExtractionError(
                            "a feature-extraction worker process died before finishing. Worker "
                            "processes are spawned: a script that calls build_cache must do so "
                            "under `if __name__ == \"__main__\":`. Otherwise the machine may be "
                            "out of memory (try workers=1). Finished shards are kept; re-run to "
                            "resume.") from error
                    if error is not None:
                        for other in pending:
                            other.cancel()  # running chunks still finish and keep their shards
                        raise error
                    done, failed = future.result()
                    bar.update(done)
                    failures += failed
    _raise_failures(failures)


def _raise_failures(failures: list[str]) -> None:
    """One :class:`FeatureExtractionError` naming every utterance that failed (20 in full)."""
    if not failures:
        return
    more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
    listed = "\n".join(f"  {f}" for f in failures[:20])
    raise FeatureExtractionError(
        f"{len(failures)} utterance(s) could not be extracted:\n{listed}{more}\nFix or remove "
        "those manifest rows and re-run; the finished shards are kept")


def _warm_up(config: FeatureConfig, parent_pid: int) -> None:
    """Tie the worker's life to its parent's, then load librosa and build the filterbanks once."""
    import numpy as np

    end_with_parent(parent_pid)
    extract_features(np.random.default_rng(0).standard_normal(4000).astype("float32"), config)


def _extract_chunk(shard: Path, items: list[_Item],
                   config: FeatureConfig) -> tuple[int, list[str]]:
    """Extract one chunk and write its shard (only when every utterance of it could be
    extracted); returns ``(utterances done, what failed: one line per utterance)``."""
    features, failures = {}, []
    for item in items:
        try:
            features[item.id] = extract_features(load_audio(item.wav, config.sample_rate), config)
        except Exception as e:  # noqa: BLE001 -- any failure is reported with its file
            failures.append(f"utterance {item.id} (manifest line {item.line}, file {item.wav}): "
                            f"{str(e)[:300]}")
    if not failures:
        write_shard(shard, features)
    return len(items), failures



def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, flush=True)


def main(argv=None) -> int:
    """The command line; returns the exit status (0 done, 1 bad data, 2 usage or config)."""
    return run_cli(_main, argv)


def _main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", required=True, help="manifest.csv to extract")
    parser.add_argument("--root", help="release root the wav paths are relative to (default: "
                        "the release the manifest was built from)")
    parser.add_argument("--config", help="experiment YAML whose `features` part to use")
    parser.add_argument("--kind", choices=["mfcc", "logmel"], help="override the feature kind "
                        "(the pretrained encoders' codes: kind hub in the --config file)")
    parser.add_argument("--workers", type=int, help="processes (default: every core)")
    parser.add_argument("--cache-root", help="default: <manifest folder>/features")
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="utterances per shard")
    args = parser.parse_args(argv)
    config = ExperimentConfig.load(args.config).features if args.config else FeatureConfig()
    if args.kind:
        config = dataclasses.replace(config, kind=args.kind)
    from data_prep.synthetic import release_root

    start = time.perf_counter()
    root = args.root or release_root(args.manifest)
    out = build_cache(args.manifest, root, config, args.cache_root, args.workers, args.chunk_size)
    print(f"features in {out} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
