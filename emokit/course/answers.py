"""A submission's answers as plain data, and their judging in the grader's reference kernel.

The student's kernel never judges. The grader appends to each submission one cell of its own
(:func:`extraction_cell`) that writes the values of the check call's answer arguments (numbers,
strings, booleans, arrays, tuples, lists, dicts; a Keras model as a ``.keras`` file) to a JSON file
whose name holds a secret of this run. Whatever the student's code patched, that file can only
hold *answers*: a forged file is a set of answers the student chose, judged like any other.

The judging runs in the *reference kernel* (:class:`Reference`): the course's solutions notebook,
executed once by the grader with the same settings, kept alive. There the source's own check
call runs on the decoded answers and on the reference's objects (its model, results, data), so
the keys come from the teacher's run, never from the student's. The verdict goes to a file of the
grader's.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
from pathlib import Path

import numpy as np

MAX_BYTES = 20_000_000  # an answers file larger than this is not read
UNANSWERED = {"__unanswered__": True}


def check_call(source: dict) -> tuple[str, list[str], dict[str, str]]:
    """The source notebook's check call: the checker's name (``notebook04``), the answer
    expressions (positional) and the object expressions (keywords)."""
    cells = [c for c in source["cells"] if c["cell_type"] == "code"
             and "exercises.notebook" in "".join(c["source"])]
    if len(cells) != 1:
        raise ValueError(f"a source notebook needs exactly one check cell, found {len(cells)}")
    tree = ast.parse("".join(cells[0]["source"]))
    call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute) and node.func.attr.startswith("notebook"))
    return (call.func.attr, [ast.unparse(a) for a in call.args],
            {k.arg: ast.unparse(k.value) for k in call.keywords})


def extraction_cell(names: list[str], path: Path) -> str:
    """The grader's last cell in a submission: each answer expression's value, as plain data, to
    ``path``. A name the submission never defined is unanswered."""
    return f'''# emokit.course.grade: your answers, as plain data, for the grader
def _emokit_answers(_names, _path):
    import json, math, os
    def enc(v, name, depth=0):
        if v is None or v is ...:
            return {{"__unanswered__": True}}
        if isinstance(v, (bool, int, str)) or depth > 8:
            return v if isinstance(v, (bool, int, str)) else {{"__opaque__": "too deep"}}
        if isinstance(v, float):
            return v if math.isfinite(v) else {{"__float__": repr(v)}}
        kind = type(v).__module__.split(".")[0]
        if any(c.__name__ == "Model" and c.__module__.startswith("keras") for c in type(v).__mro__
               ) and not hasattr(v, "inputs"):  # subclassed: its code stays in this kernel
            return {{"__opaque__": "unloadable model (a subclass)"}}
        if hasattr(v, "save") and hasattr(v, "inputs") and kind == "keras":
            file = os.path.basename(_path) + "." + name + ".keras"
            v.save(os.path.join(os.path.dirname(_path), file))
            return {{"__keras__": file}}
        if hasattr(v, "numpy") and kind in ("tensorflow", "keras"):
            v = v.numpy()
        if hasattr(v, "dtype") and hasattr(v, "tolist") and hasattr(v, "shape"):
            if getattr(v, "size", 0) > 1_000_000:
                return {{"__opaque__": "an array of more than a million values"}}
            return {{"__array__": enc(v.tolist(), name, depth + 1), "dtype": str(v.dtype),
                    "shape": list(v.shape)}}
        if isinstance(v, tuple):
            return {{"__tuple__": [enc(x, name, depth + 1) for x in v[:100000]]}}
        if isinstance(v, list):
            return [enc(x, name, depth + 1) for x in v[:100000]]
        if isinstance(v, dict):
            return {{"__dict__": [[enc(k, name, depth + 1), enc(x, name, depth + 1)]
                                 for k, x in list(v.items())[:10000]]}}
        return {{"__opaque__": type(v).__name__}}
    values = []
    for index, expression in enumerate(_names):
        try:
            value = eval(expression, globals())
        except Exception:
            value = ...
        try:
            values.append(enc(value, str(index)))
        except Exception as error:
            values.append({{"__opaque__": type(error).__name__}})
    with open(_path, "w") as f:
        f.write(json.dumps(values))
_emokit_answers({names!r}, {str(path)!r})
'''


def decode(value, folder: Path):
    """The Python value of one encoded answer (numpy arrays, tuples, Keras models rebuilt)."""
    if isinstance(value, list):
        return [decode(v, folder) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("__unanswered__") is True:
        return ...
    if "__float__" in value:
        return float(value["__float__"])
    if "__tuple__" in value:
        return tuple(decode(v, folder) for v in value["__tuple__"])
    if "__dict__" in value:
        return {_hashable(decode(k, folder)): decode(v, folder) for k, v in value["__dict__"]}
    if "__array__" in value:
        try:
            dtype = np.dtype(str(value.get("dtype")))
        except TypeError:
            dtype = np.dtype(object)
        data = decode(value["__array__"], folder)
        return np.asarray(data, dtype=dtype if dtype.kind in "biufcU" else None)
    if "__keras__" in value:
        return _load_model(folder / Path(str(value["__keras__"])).name)
    return opaque(str(value.get("__opaque__", "something")))


def _hashable(key):
    return key if isinstance(key, (str, int, float, bool, tuple)) else repr(key)


def opaque(type_name: str):
    """A stand-in for an answer that is no plain data: wrong everywhere, named by its type."""
    name = "".join(ch for ch in type_name if ch.isalnum() or ch == "_")[:40] or "Unknown"
    return type(name, (), {"__repr__": lambda self: f"<{name}>"})()


def _load_model(path: Path):
    import keras

    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # noqa: BLE001 - a model that does not load is a wrong answer
        return opaque(f"unloadable model ({type(error).__name__})")


def load(path: Path) -> list:
    """The decoded answers of ``path`` (written by :func:`extraction_cell`)."""
    if not path.is_file():
        raise ValueError("the answers never reached the grader (the run stopped before its "
                         "last cell)")
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"the answers are larger than {MAX_BYTES // 10**6} MB")
    values = json.loads(path.read_text(), parse_constant=float)
    if not isinstance(values, list):
        raise ValueError("the answers file holds no list")
    return [decode(v, path.parent) for v in values]


def judge(checker, answers_path: str, objects: dict, verdict_path: str) -> None:
    """Run in the reference kernel: ``checker`` on the answers and the reference's objects; the
    statuses and the checker's lines (hints included) to ``verdict_path``."""
    verdict: dict = {"statuses": {}, "text": ""}
    try:
        values = load(Path(answers_path))
    except Exception as error:  # noqa: BLE001 - answers that do not decode earn nothing
        verdict["error"] = f"the answers could not be read: {error}"[:300]
    else:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            verdict["statuses"] = checker(*values, **objects)
        verdict["text"] = printed.getvalue()
    Path(verdict_path).write_text(json.dumps(verdict))


class Reference:
    """The solutions notebook ``source``, run once in a kernel of the grader's with ``env``, kept
    alive to judge answers (:meth:`judge`)."""

    def __init__(self, source: dict, folder: Path, env: dict[str, str], timeout: int):
        import nbformat
        from nbclient import NotebookClient

        self.name, self.answers, self.objects = check_call(source)
        self.folder = folder
        (folder / "home").mkdir(parents=True, exist_ok=True)
        notebook = nbformat.reads(json.dumps(source), as_version=4)
        notebook.cells = [c for c in notebook.cells
                          if not (c.cell_type == "code" and "exercises.notebook" in c.source)]
        self.notebook = notebook
        self.client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                     allow_errors=False, resources={"metadata": {"path": str(folder)}})
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(self.client.setup_kernel(env=env, cwd=str(folder)))
        for index, cell in enumerate(notebook.cells):
            self.client.execute_cell(cell, index)
        self._run("import importlib as _i, pkgutil as _p, emokit as _e\n"
                  "from emokit.course import answers as _emokit_answers, exercises as _emokit_ex\n"
                  "for _m in _p.walk_packages(_e.__path__, 'emokit.'):  # nothing read from disk later\n"
                  "    if not _m.name.endswith('__main__'):\n"
                  "        try:\n            _i.import_module(_m.name)\n"
                  "        except (Exception, SystemExit):\n            pass")

    def pid(self) -> int | None:
        process = getattr(self.client.km.provisioner, "process", None)
        return getattr(process, "pid", None)

    def _run(self, code: str) -> None:
        import nbformat

        cell = nbformat.v4.new_code_cell(code)
        self.notebook.cells.append(cell)
        self.client.execute_cell(cell, len(self.notebook.cells) - 1)

    def judge(self, answers: Path, verdict: Path) -> dict:
        """The verdict on the answers file ``answers`` (a file of the grader's)."""
        objects = "{" + ", ".join(f"{k!r}: {e}" for k, e in self.objects.items()) + "}"
        self._run(f"_emokit_answers.judge(_emokit_ex.{self.name}, {str(answers)!r}, {objects}, "
                  f"{str(verdict)!r})")
        return json.loads(verdict.read_text())

    def close(self) -> None:
        self._stack.close()
