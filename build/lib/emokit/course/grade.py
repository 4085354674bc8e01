"""Grade a folder of submitted course notebooks into CSVs of points and per-student feedback.

    python -m emokit.course.grade SUBMISSIONS --out grades.csv [--quick] [--jobs 2]

``SUBMISSIONS`` holds one folder per student with their notebooks (``alice/05_*.ipynb``), or the
notebooks themselves, named after the student (``alice.ipynb``, ``alice_05.ipynb``);
:mod:`emokit.course.collect` makes such a folder from zips or LMS downloads.

The student's kernel never judges. First the grader runs each needed *solutions* notebook once in
a kernel of its own, with the same settings (this also builds the shared data folder), and keeps
it alive: the keys come from that run. Each submission then runs top to bottom, without its check
cells, in a throwaway working copy (:mod:`emokit.course.sandbox`: its own user where the grader is
root, a clean environment, limits on time and memory, every process it leaves killed); a last
cell of the grader's writes its answers as plain data to a file named with a secret of the run
(:mod:`emokit.course.answers`), and the reference kernel judges them with the source notebook's
own check call, hints included. A cell that raises does not stop the notebook; a dead kernel, a
timeout or a file that is no notebook is a line in the CSV, with the points of what did run.

Writes, after every submission: ``grades.csv`` (one row per exercise), ``grades_wide.csv`` (one
row per student), ``feedback/<student>.md`` and ``.grades_state.json`` (a rerun skips what is
graded; ``--regrade`` grades everything again).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import re
import secrets
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from emokit.course import sandbox
from emokit.course.answers import Reference, check_call, extraction_cell
from emokit.course.gradebook import POINTS, points_of, read_state, write_all
from emokit.course.student_notebooks import SOURCES

__all__ = ["POINTS", "points_of", "grade", "main"]
CHECK_CALL = re.compile(r"exercises\.(notebook\d\d)\(")  # the course checkers
MAX_NOTEBOOK_BYTES = 50_000_000


class NotANotebook(ValueError):
    """A submitted file the grader cannot read as a course notebook."""


@dataclass
class Job:
    """One submission to run: who, which file, which source notebook it answers."""

    student: str
    path: Path
    file: str
    key: str
    source: Path
    notebook: dict
    source_notebook: dict  # read once: a submission rewriting the file changes nothing
    notes: list[str] = field(default_factory=list)

    @property
    def number(self) -> str:
        return self.source.name[:2]


def safe_name(name: str) -> str:
    """A student name that is a plain file name: no ``/``, no leading dot, no ``..``."""
    cleaned = re.sub(r"[^\w.-]", "_", name).lstrip(".-")
    return cleaned or "unnamed"


def submissions(folder: Path) -> list[tuple[str, Path]]:
    """``(student, notebook)`` pairs: the student is the first folder below ``folder``, or the
    notebook's name (up to a ``_NN`` suffix) when it lies in ``folder`` itself. Links are not
    followed."""
    found = []
    for path in sorted(folder.rglob("*.ipynb")):
        relative = path.relative_to(folder)
        if ".ipynb_checkpoints" in path.parts or path.is_symlink() or not path.is_file():
            continue
        name = relative.parts[0] if len(relative.parts) > 1 else re.sub(
            r"[_-]?\d\d(_[\w-]*)?$", "", path.stem) or path.stem
        found.append((safe_name(name), path))
    return found


def read_notebook(path: Path) -> dict:
    """``path`` as an nbformat-4 notebook (an nbformat-3 one is upgraded); :class:`NotANotebook`
    saying what is wrong otherwise."""
    import nbformat

    size = path.stat().st_size
    if size == 0:
        raise NotANotebook("not a notebook: the file is empty (0 bytes)")
    if size > MAX_NOTEBOOK_BYTES:
        raise NotANotebook(f"not a notebook: {size // 10**6} MB, more than "
                           f"{MAX_NOTEBOOK_BYTES // 10**6} MB (clear the outputs)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise NotANotebook(f"not a notebook: not UTF-8 text (byte {error.start})") from None
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise NotANotebook(f"not a notebook: invalid JSON ({error}); was the file cut short?"
                           ) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("nbformat"), int):
        raise NotANotebook("not a notebook: JSON without an nbformat version")
    try:
        notebook = json.loads(nbformat.writes(nbformat.reads(text, as_version=4)))
    except Exception as error:  # noqa: BLE001 - any malformed notebook is a line, not a crash
        raise NotANotebook(f"not a notebook: {type(error).__name__}: {error}"[:300]) from None
    if not isinstance(notebook.get("cells"), list):
        raise NotANotebook("not a notebook: no list of cells")
    return notebook


def _text(cell: dict) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def check_cells(notebook: dict) -> list[int]:
    """Indices of the code cells that call an exercise checker (the cells the grader drops)."""
    return [i for i, cell in enumerate(notebook["cells"]) if cell.get("cell_type") == "code"
            and CHECK_CALL.search(_text(cell))]


def match_source(submission: dict, path: Path, sources: list[Path]) -> Path:
    """The source notebook ``submission`` was handed out from: the one sharing most cell ids
    (students rename files), then the two-digit prefix of its file name."""
    ids = {cell.get("id") for cell in submission["cells"]} - {None}
    best, shared = None, 0
    for source in sources:
        common = len(ids & {cell.get("id") for cell in json.loads(source.read_text())["cells"]})
        if common > shared:
            best, shared = source, common
    if best is not None:
        return best
    digits = re.findall(r"(?<!\d)(\d\d)(?!\d)", path.stem)
    for source in sources:
        if digits and source.name[:2] == digits[-1]:
            return source
    raise NotANotebook(f"not one of the course notebooks ({', '.join(s.name for s in sources)}): "
                       "name it like the notebook it answers (alice/05_contrastive.ipynb)")


def prepare(submission: dict, source: dict, answers: Path) -> dict:
    """``submission`` without its check cells (any cell calling a checker, and any cell standing
    where the source has one), outputs cleared, each cell numbered as the student sees it
    (``metadata.emokit_cell``), and the grader's answer-extraction cell appended."""
    import nbformat

    locked = {source["cells"][i].get("id") for i in check_cells(source)} - {None}
    drop = set(check_cells(submission)) | {i for i, c in enumerate(submission["cells"])
                                           if c.get("id") in locked}
    notebook = nbformat.v4.new_notebook(metadata=submission.get("metadata", {}))
    for index, cell in enumerate(submission["cells"]):
        if index in drop or cell.get("cell_type") != "code":
            continue
        code = nbformat.v4.new_code_cell(_text(cell))
        code.metadata["emokit_cell"] = index + 1
        notebook.cells.append(code)
    _, names, _ = check_call(source)
    notebook.cells.append(nbformat.v4.new_code_cell(extraction_cell(names, answers)))
    return notebook


def plan(found, folder: Path, sources: list[Path], mode: str) -> tuple[list[Job], list[dict]]:
    """The jobs to run (one per student and notebook number) and the records of files that are
    not graded (no notebook, or a second copy)."""
    jobs, lines, texts = [], [], {}
    for student, path in found:
        file = str(path.relative_to(folder))
        digest = hashlib.sha256(path.read_bytes()[:MAX_NOTEBOOK_BYTES + 1]).hexdigest()[:16]
        try:
            notebook = read_notebook(path)
            source = match_source(notebook, path, sources)
        except NotANotebook as error:
            lines.append(record(student, "?", file, f"{student}/?/{digest}", mode, str(error)))
            continue
        jobs.append(Job(student, path, file, f"{student}/{source.name[:2]}/{digest}", source,
                        notebook, texts.setdefault(source, json.loads(source.read_text()))))
    chosen = {}
    for job in sorted(jobs, key=lambda j: (j.path.stat().st_mtime, j.file)):
        chosen[(job.student, job.number)] = job  # the newest wins
    for job in jobs:
        best = chosen[(job.student, job.number)]
        if best is not job:
            note = (f"not graded: {job.student} handed in more than one notebook {job.number}; "
                    f"graded {best.file} (the newest)")
            best.notes.append(f"{job.file} is another notebook {job.number}: not graded")
            lines.append(record(job.student, job.number, job.file, job.key, mode, note)
                         | {"graded": False})
    return list(chosen.values()), lines


def record(student, number, file, key, mode, outcome="", exercises=()) -> dict:
    return {"key": key, "student": student, "notebook": number, "file": file, "mode": mode,
            "exercises": list(exercises), "statuses": {}, "lines": {}, "errors": [],
            "outcome": outcome, "notes": [], "graded": True, "seconds": 0.0}


def kernel_env(quick: bool) -> dict[str, str]:
    """What every kernel (the reference's and the submissions') is given: the same settings."""
    from emokit.core.paths import data_dir

    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
    return keep | {"EMOKIT_QUICK": "1" if quick else "0", "EMOKIT_DATA": str(data_dir()),
                   "TF_CPP_MIN_LOG_LEVEL": "2", "TF_DETERMINISTIC_OPS": "1",
                   "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}


def grade(folder: Path, out: Path, sources: Path = SOURCES, feedback: Path | None = None,
          limits: sandbox.Limits | None = None, jobs: int = 1, quick: bool = False,
          regrade: bool = False, verbose: bool = True) -> list[dict]:
    """Grade every notebook below ``folder``; keep ``out`` (CSV), its wide CSV and the feedback
    pages written as each submission finishes. Returns the records."""
    limits, feedback = limits or sandbox.Limits(), feedback or out.parent / "feedback"
    state, work = out.parent / f".{out.stem}_state.json", out.parent / f".{out.stem}_work"
    source_list = sorted(Path(sources).glob("*.ipynb"))
    if not source_list:
        raise FileNotFoundError(f"no source notebook in {sources}")
    found = submissions(folder)
    if not found:
        raise FileNotFoundError(f"no .ipynb file below {folder}: put each student's notebooks in "
                                "a folder named after them (alice/05_contrastive.ipynb)")
    mode = "quick" if quick else "full"
    todo, lines = plan(found, folder, source_list, mode)
    current = {j.key for j in todo} | {r["key"] for r in lines}
    done = {} if regrade else {r["key"]: r for r in read_state(state)
                               if r.get("key") in current and r.get("mode") == mode}
    records = done | {r["key"]: r for r in lines}
    todo = [j for j in todo if j.key not in done]
    write_all(list(records.values()), out, feedback, state)
    say = print if verbose else (lambda *a, **k: None)
    if len(done):
        say(f"{len(done)} submissions already graded (--regrade grades them again)")
    if not todo:
        return list(records.values())
    package = Path(__file__).resolve().parents[1]  # emokit/
    install = sandbox.Installation(package, Path(sources).resolve())
    env = kernel_env(quick)
    sandbox.become_subreaper()
    references = {}
    for job in todo:
        if job.number not in references:
            say(f"running the solutions of notebook {job.number} once, in {mode} mode ...",
                flush=True)
            started = time.monotonic()
            references[job.number] = start_reference(job, work, env, package, limits)
            sandbox.PROTECTED.add(references[job.number].pid() or -1)
            say(f"  done in {time.monotonic() - started:.0f} s", flush=True)
    uid = sandbox.slot_user(0)
    say(sandbox.user_note(uid), flush=True)
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(max(jobs, 1)):
        slots.put(slot)

    def run(job: Job, secret: str) -> tuple[sandbox.RunReport, Path]:
        slot = slots.get()
        try:
            workdir = work / f"run-{secrets.token_hex(6)}"
            answers = workdir / "answers" / f"{secret}.json"
            lib = workdir.parent / f"{workdir.name}-lib"
            install.copy_package(package, lib)
            notebook = prepare(job.notebook, job.source_notebook, answers)
            report = sandbox.execute(notebook, workdir, env, lib,
                                     limits, None if uid is None else uid + slot)
            kept = work / "verdicts" / workdir.name
            kept.mkdir(parents=True)
            for path in (workdir / "answers").glob(f"{secret}.json*"):
                if path.is_file() and not path.is_symlink() and path.stat().st_size < 10**8:
                    shutil.copyfile(path, kept / path.name, follow_symlinks=False)
            sandbox.remove(workdir)
            shutil.rmtree(lib, ignore_errors=True)
            return report, kept / f"{secret}.json"
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(max(jobs, 1)) as pool:
        futures = {pool.submit(run, job, secrets.token_hex(16)): job for job in todo}
        for future in as_completed(futures):
            job = futures[future]
            report, answers = future.result()
            result = judge(job, report, answers, references[job.number], mode)
            changed = install.restore_changes()
            if changed:
                result["notes"].append("while it ran, the grader's files were changed (" +
                                       ", ".join(changed[:3]) + "): put back")
            records[job.key] = result
            write_all(list(records.values()), out, feedback, state)
            got = sum(points_of(job.number, e) for e, s in result["statuses"].items()
                      if s == "right")
            most = sum(points_of(job.number, e) for e in result["exercises"])
            say(f"{job.student} {job.file}: {got}/{most} points ({report.seconds:.0f} s)"
                + (f"; {result['outcome']}" if result["outcome"] else ""), flush=True)
    for reference in references.values():
        reference.close()
    shutil.rmtree(work / "verdicts", ignore_errors=True)
    return list(records.values())


def start_reference(job: Job, work: Path, env: dict, package: Path,
                    limits: sandbox.Limits) -> Reference:
    source = job.source
    folder = work / f"reference-{job.number}"
    reference_env = env | {"HOME": str(folder / "home"), "EMOKIT_RESULTS": str(folder / "results"),
                           "PYTHONPATH": str(package.parent)}
    try:
        return Reference(job.source_notebook, folder, reference_env,
                         limits.cell_timeout)
    except Exception as error:  # noqa: BLE001 - the teacher's notebook failing is fatal, said so
        raise ValueError(f"the solutions notebook {source} failed, so nothing can be judged: "
                         f"{type(error).__name__}: {str(error)[-500:]}") from None


def judge(job: Job, report: sandbox.RunReport, answers: Path, reference: Reference,
          mode: str) -> dict:
    """The record of ``job``: its answers judged in the reference kernel."""
    _, names, _ = check_call(job.source_notebook)
    result = record(job.student, job.number, job.file, job.key, mode, report.outcome,
                    [str(i + 1) for i in range(len(names))])
    result["errors"], result["notes"] = report.errors, job.notes + report.notes
    result["seconds"] = round(report.seconds, 1)
    try:
        verdict = reference.judge(answers, answers.with_suffix(".verdict"))
    except Exception as error:  # noqa: BLE001 - a checker that raises is a line, not a crash
        verdict = {"statuses": {}, "error": f"the checks raised {type(error).__name__}"}
    if verdict.get("error"):
        result["outcome"] = result["outcome"] or verdict["error"]
    result["statuses"] = {str(k): str(v) for k, v in verdict.get("statuses", {}).items()}
    text = verdict.get("text", "")
    result["lines"] = {m.group(1): m.group(0) for m in re.finditer(
        r"^[✓✗…] exercise (\S+): .*$", text, re.MULTILINE)}
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder of submitted notebooks")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="the CSV to write")
    parser.add_argument("--feedback", type=Path, help="folder of feedback pages "
                        "(default: feedback/ next to --out)")
    parser.add_argument("--sources", type=Path, default=SOURCES,
                        help="the solutions notebooks (default: the course's)")
    parser.add_argument("--quick", action="store_true",
                        help="run the solutions and submissions in quick mode (EMOKIT_QUICK=1)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions run at once")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    parser.add_argument("--wall", type=int, default=7200, help="seconds per submission")
    parser.add_argument("--memory-gb", type=float, default=8.0,
                        help="address space per process of a submission, in GB")
    parser.add_argument("--regrade", action="store_true", help="grade already graded files again")
    args = parser.parse_args(argv)
    try:
        records = grade(args.submissions, args.out, args.sources, args.feedback,
                        sandbox.Limits(args.timeout, args.wall, args.memory_gb), args.jobs,
                        args.quick, args.regrade)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}, {args.out.stem}_wide{args.out.suffix} ({len(records)} notebooks) "
          f"and {args.feedback or args.out.parent / 'feedback'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
