"""Run one submitted notebook apart from the grader, its teacher and the other students.

The grader (:mod:`emokit.course.grade`) calls :func:`execute` once per submission. It starts a
*runner* (``python -m emokit.course.sandbox SPEC``) in a throwaway working copy of its own, with a
clean environment (``HOME``, ``TMPDIR``, results folder and a copy of emokit inside that copy), in
a session of its own, and under an unprivileged user of its own where the grader runs as root and
that user can read the Python installation (as on Colab). The runner limits its address space
(inherited by the kernel), executes the notebook cell by cell with nbclient, and reports each cell
it starts and how the run ended through a pipe the kernel does not inherit. A dead kernel or a
cell past the time limit ends the run with a line ("kernel died in cell 7"), never an exception
in the grader.

When the run ends (or its wall-time limit passes), every process it left is killed: the runner's
descendants, the grader's orphans (the grader is the child subreaper, so a process that
double-forks or calls ``setsid`` is reparented to it, not to init) and, under a user of its own,
every process of that user. Then the working copy is deleted.
"""

from __future__ import annotations

import ctypes
import json
import os
import pwd
import resource
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

OUTPUT_CAP = 20_000_000  # bytes of cell output a run may keep; the rest is dropped and said so
FIRST_UID = 61000  # job slot k runs as uid FIRST_UID + k (grader as root only)
_LOCK = threading.Lock()
_ACTIVE: set[int] = set()  # the runners now running (their trees are not leftovers)
PROTECTED: set[int] = set()  # the grader's own children (the reference kernels)


@dataclass
class Limits:
    """Per-cell and per-submission seconds, and the address space of each process, in GB."""

    cell_timeout: int = 600
    wall_timeout: int = 3600
    memory_gb: float = 8.0


@dataclass
class RunReport:
    """How a run ended: ``outcome`` is "" when every cell ran, else the line that says why not."""

    outcome: str = ""
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def become_subreaper() -> bool:
    """Make this process the child subreaper (Linux): orphans of its descendants become its own."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def slot_user(slot: int) -> int | None:
    """The uid job ``slot`` runs as: its own unprivileged one when the grader is root and that uid
    can start this Python with emokit's dependencies, else ``None`` (the grader's own user)."""
    if os.geteuid() != 0:
        return None
    uid = FIRST_UID + slot
    try:
        probe = subprocess.run([sys.executable, "-c", "import nbclient, numpy, emokit"],
                               user=uid, group=uid, extra_groups=[], cwd="/",
                               env={"HOME": "/", "PATH": os.environ.get("PATH", ""),
                                    "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
                               capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    return uid if probe.returncode == 0 else None


def user_note(uid: int | None) -> str:
    if uid is not None:
        return f"each submission runs as an unprivileged user of its own (uid {uid} and up)"
    who = pwd.getpwuid(os.geteuid()).pw_name
    return (f"submissions run as the grader's own user ({who}): their files and emokit are throwaway "
            "copies, but the Python installation and the data folder are writable to them"
            + (" (the Python installation is not readable by another user)"
               if os.geteuid() == 0 else ""))


def execute(notebook: dict, workdir: Path, env: dict[str, str], lib: Path, limits: Limits,
            uid: int | None = None) -> RunReport:
    """Run ``notebook`` (its cells' ``metadata.emokit_cell`` number them as the student sees them)
    in ``workdir`` under ``limits``; kill whatever it leaves; return how it ended."""
    began = time.monotonic()
    for sub in ("nb", "home", "tmp", "results", "answers"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    (workdir / "nb" / "submission.ipynb").write_text(json.dumps(notebook))
    read_end, write_end = os.pipe()
    spec = {"notebook": str(workdir / "nb" / "submission.ipynb"), "cwd": str(workdir / "nb"),
            "cell_timeout": limits.cell_timeout, "memory_gb": limits.memory_gb, "fd": write_end}
    (workdir / "spec.json").write_text(json.dumps(spec))
    if uid is not None:
        for path in [workdir, *workdir.rglob("*")]:
            os.chown(path, uid, uid)
        os.chmod(workdir, 0o700)
    run_env = env | {"HOME": str(workdir / "home"), "TMPDIR": str(workdir / "tmp"),
                     "EMOKIT_RESULTS": str(workdir / "results"), "PYTHONPATH": str(lib),
                     "IPYTHONDIR": str(workdir / "home" / ".ipython"), "PYTHONNOUSERSITE": "1",
                     "JUPYTER_RUNTIME_DIR": str(workdir / "tmp" / "jupyter")}
    if uid is not None:
        run_env |= {"USER": f"grade{uid}", "LOGNAME": f"grade{uid}"}
    log = open(workdir.parent / f"{workdir.name}.log", "wb")
    user = {"user": uid, "group": uid, "extra_groups": []} if uid is not None else {}
    with _LOCK:
        proc = subprocess.Popen([sys.executable, "-m", "emokit.course.sandbox",
                                 str(workdir / "spec.json")], cwd=workdir / "nb", env=run_env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                pass_fds=(write_end,), start_new_session=True, **user)
        _ACTIVE.add(proc.pid)
    os.close(write_end)
    report, cell, finished = RunReport(), None, False
    deadline = began + limits.wall_timeout
    buffer = b""
    with os.fdopen(read_end, "rb") as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                report.outcome = (f"timed out after {limits.wall_timeout} s (the limit per "
                                  f"submission), in cell {cell}")
                break
            ready, _, _ = select.select([pipe], [], [], min(left, 5.0))
            if not ready:
                continue
            chunk = os.read(pipe.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                message = json.loads(line)
                cell = message.get("cell", cell)
                if "outcome" in message:
                    finished = True
                    report.outcome = message["outcome"]
                    report.errors, report.notes = message["errors"], message["notes"]
    if not finished and not report.outcome:
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = "still running"
        report.outcome = (f"the run stopped in cell {cell} (its runner ended with {code}: "
                          "out of memory, or a signal)")
    kill_leftovers(proc, uid)
    log.close()
    report.seconds = time.monotonic() - began
    return report


def _processes() -> dict[int, tuple[int, int]]:
    """``pid -> (ppid, uid)`` of every process now."""
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
                found[int(name)] = (int(stat.rsplit(")", 1)[1].split()[1]),
                                    os.stat(f"/proc/{name}").st_uid)
            except (OSError, ValueError, IndexError):
                continue
    return found


def _tree(roots: set[int], table: dict[int, tuple[int, int]]) -> set[int]:
    tree, frontier = set(roots), set(roots)
    while frontier:
        frontier = {pid for pid, (ppid, _) in table.items() if ppid in frontier} - tree
        tree |= frontier
    return tree


def kill_leftovers(proc: subprocess.Popen, uid: int | None) -> None:
    """Kill ``proc``'s tree, the grader's orphans and (with ``uid``) every process of ``uid``."""
    me = os.getpid()
    for _ in range(50):
        table = _processes()
        with _LOCK:
            keep = _tree((_ACTIVE - {proc.pid}) | PROTECTED, table) | {me}
        orphans = {pid for pid, (ppid, _) in table.items() if ppid == me}
        targets = (_tree({proc.pid} | orphans, table)
                   | {pid for pid, (_, owner) in table.items() if uid is not None and owner == uid})
        targets = {pid for pid in targets - keep if pid in table}
        if proc.poll() is None:
            targets.add(proc.pid)
        if not targets:
            break
        for pid in targets:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in targets & orphans:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.1)
    proc.wait()
    with _LOCK:
        _ACTIVE.discard(proc.pid)


def remove(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    Path(f"{workdir}.log").unlink(missing_ok=True)


class Installation:
    """emokit and the source notebooks as the grader started: what a submission changed, put back;
    and the copy of emokit each submission's kernel imports."""

    def __init__(self, *folders: Path):
        self.files = {path: path.read_bytes() for folder in folders for path in folder.rglob("*")
                      if path.is_file() and "__pycache__" not in path.parts}
        self.folders = folders

    def restore_changes(self) -> list[str]:
        now = {p for folder in self.folders for p in folder.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
        changed = [p for p in self.files if not p.is_file() or p.read_bytes() != self.files[p]]
        added = sorted(now - set(self.files))
        for path in added:
            path.unlink()
        for path in changed:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.files[path])
        return [str(p) for p in changed + added]

    def copy_package(self, package: Path, into: Path) -> None:
        for path, data in self.files.items():
            if package in path.parents:
                target = into / package.name / path.relative_to(package)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                target.chmod(0o444)



# ---- the runner: this module as a program, in the submission's working copy ----

def _run(spec: dict) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbclient.util import run_sync

    limit = int(spec["memory_gb"] * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    report = os.fdopen(spec["fd"], "w", buffering=1)

    def say(**message):
        report.write(json.dumps(message) + "\n")
        report.flush()

    class Capped(NotebookClient):
        kept = 0
        notes: list[str] = []

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            size = len(content.get("text", "")) + sum(
                len(v) for v in content.get("data", {}).values() if isinstance(v, str))
            Capped.kept += size
            if Capped.kept > OUTPUT_CAP:
                if not Capped.notes:
                    Capped.notes.append(f"output past {OUTPUT_CAP // 10**6} MB was dropped")
                return None
            return super().output(outs, msg, display_id, cell_index)

    notebook = nbformat.reads(Path(spec["notebook"]).read_text(), as_version=4)
    client = Capped(notebook, timeout=spec["cell_timeout"], kernel_name="python3",
                    allow_errors=True, resources={"metadata": {"path": spec["cwd"]}})
    outcome, last = "", len(notebook.cells) - 1
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            number = cell.metadata.get("emokit_cell", "the grader's")
            say(cell=number)
            try:
                client.execute_cell(cell, index)
            except DeadKernelError:
                outcome = f"kernel died in cell {number}"
                break
            except CellTimeoutError:
                outcome = f"timed out in cell {number} after {spec['cell_timeout']} s"
                if index < last:  # the answers set so far still count
                    run_sync(client.km.interrupt_kernel)()
                    client.timeout = 120
                    try:
                        client.execute_cell(notebook.cells[last], last)
                    except Exception:  # noqa: BLE001 - no answers then
                        pass
                break
            except Exception as error:  # noqa: BLE001 - e.g. a kernel whose messages broke
                outcome = f"the kernel broke off in cell {number} ({type(error).__name__})"
                break
    errors = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                where = cell.metadata.get("emokit_cell", "the grader's")
                errors.append(f"cell {where} raised {out['ename']}: {out['evalue']}"[:300])
    say(outcome=outcome, errors=errors, notes=Capped.notes)


if __name__ == "__main__":
    _run(json.loads(Path(sys.argv[1]).read_text()))
