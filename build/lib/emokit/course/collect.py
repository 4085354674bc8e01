"""Make a grading folder from what a learning-management system hands out.

    python -m emokit.course.collect DOWNLOADS submissions/

``DOWNLOADS`` holds ``<student>.zip`` files (every ``.ipynb`` inside is taken, wherever it lies
in the archive) and ``<student>_<anything>.ipynb`` files (the way Moodle and Canvas name
downloads: the student is the part before the first ``_``). Each lands in
``submissions/<student>/`` under its own base name, ready for :mod:`emokit.course.grade`. Names
are made safe (no ``/``, no leading dot), archive members are never extracted by their path, and a
member larger than 50 MB is skipped and said so.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import zipfile
from pathlib import Path

from emokit.course.grade import MAX_NOTEBOOK_BYTES, safe_name


def collect(downloads: Path, into: Path) -> list[str]:
    """Copy every notebook of ``downloads`` into ``into/<student>/``; return what was done."""
    said = []
    for path in sorted(downloads.iterdir()):
        if path.is_symlink() or not path.is_file():
            continue
        if path.suffix == ".zip":
            said += _from_zip(path, into / safe_name(path.stem))
        elif path.suffix == ".ipynb":
            student = safe_name(path.stem.split("_")[0])
            target = into / student / safe_name(path.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            said.append(f"{path.name} -> {target.relative_to(into)}")
    return said


def _from_zip(path: Path, folder: Path) -> list[str]:
    said = []
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        return [f"{path.name}: not a zip file, skipped"]
    with archive:
        for member in archive.infolist():
            name = Path(member.filename).name
            if member.is_dir() or not name.endswith(".ipynb") or "__MACOSX" in member.filename:
                continue
            if ".ipynb_checkpoints" in member.filename:
                continue
            if member.file_size > MAX_NOTEBOOK_BYTES:
                said.append(f"{path.name}: {member.filename} is larger than "
                            f"{MAX_NOTEBOOK_BYTES // 10**6} MB, skipped")
                continue
            target = folder / safe_name(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(target, "wb") as out:
                out.write(source.read(MAX_NOTEBOOK_BYTES + 1))
            said.append(f"{path.name}: {member.filename} -> {folder.name}/{target.name}")
    return said


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("downloads", type=Path, help="folder of <student>.zip / <student>_*.ipynb")
    parser.add_argument("into", type=Path, help="the grading folder to fill")
    args = parser.parse_args(argv)
    if not args.downloads.is_dir():
        print(f"error: {args.downloads} is not a folder", file=sys.stderr)
        return 2
    said = collect(args.downloads, args.into)
    print("\n".join(said) or f"no .zip or .ipynb file in {args.downloads}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
