"""A class's submissions, read safely: a folder of ``.ipynb`` files or a Moodle "download all" zip.

Nothing is extracted to disk and nothing is executed here. Every notebook is untrusted: a zip member that
leaves the archive (``../``, an absolute path, a link), a zip bomb, a file over :data:`MAX_NOTEBOOK_BYTES`,
invalid JSON, nbformat 3, a notebook without cells or with duplicated cell ids gets a status (``REFUSED`` or
``BROKEN``) and a one-line reason; the other submissions go on.

Moodle names each student's folder ``<Full name>_<participant id>_assignsubmission_file_``; the name and the
id are read from it (the id feeds the Moodle grade import).
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mnistlab.errors import MnistlabError

OK, BROKEN, TIMEOUT, REFUSED = "OK", "BROKEN", "TIMEOUT", "REFUSED"
MAX_NOTEBOOK_BYTES = 50_000_000  # a lab notebook with its figures is ~1-5 MB; 500 MB of outputs is refused
MAX_MEMBERS = 5000  # files in one zip
MAX_TOTAL_BYTES = 2_000_000_000  # uncompressed bytes read from one zip
MAX_RATIO = 200  # uncompressed / compressed size above which a large member is taken for a bomb
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_(assignsubmission|onlinetext|file)")


@dataclass
class Submission:
    """One student's notebook: ``student`` (a display name), ``file`` (where it came from), ``ident`` (the
    Moodle participant id, or ""), ``nb`` (the notebook's JSON, None unless readable), ``status``, ``reason``,
    ``digest`` (SHA-256 of its bytes)."""

    student: str
    file: str
    ident: str = ""
    nb: dict | None = None
    status: str = OK
    reason: str = ""
    digest: str = ""
    flags: list[str] = field(default_factory=list)


def collect(source: str | Path, exclude: Path | None = None) -> list[Submission]:
    """Every submission in ``source`` (a folder, searched recursively, or a ``.zip``), sorted by student.

    ``exclude``: a folder not searched (the grader's own output, when it lies inside ``source``).

    Raises:
        MnistlabError: ``source`` is neither a folder nor a readable zip (the only batch-level failure).
    """
    source = Path(source)
    if source.is_dir():
        subs = _from_folder(source, exclude)
    elif source.is_file() and zipfile.is_zipfile(source):
        subs = _from_zip(source)
    elif source.exists():
        raise MnistlabError("neither a folder of notebooks nor a zip file", source)
    else:
        raise MnistlabError("no such folder or zip file", source)
    _unique_names(subs)
    return sorted(subs, key=lambda s: (s.student.casefold(), s.file))


def student_name(relpath: str) -> tuple[str, str]:
    """(student display name, Moodle participant id or "") from a submission's relative path."""
    parts = PurePosixPath(relpath).parts
    for part in parts[:-1]:
        m = _MOODLE.match(part)
        if m:
            return _clean(m["name"]), m["id"]
    return _clean(PurePosixPath(relpath).stem), ""


def slug(name: str) -> str:
    """A file name for a student's feedback: letters, digits, ``-`` and ``_`` only (accents dropped)."""
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_-]+", "_", ascii_).strip("_")[:80] or "student"


def parse(sub: Submission, data: bytes) -> Submission:
    """Fill ``sub.nb`` from ``data``, or set its status and reason; returns ``sub``."""
    sub.digest = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_NOTEBOOK_BYTES:
        return _fail(sub, REFUSED, f"{len(data) / 1e6:.0f} MB, over the {MAX_NOTEBOOK_BYTES // 1_000_000} MB "
                                   "a notebook may weigh (clear its outputs' large images)")
    try:
        nb = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return _fail(sub, BROKEN, "not UTF-8 text, so not a notebook")
    except RecursionError:
        return _fail(sub, BROKEN, "JSON nested too deeply")
    except ValueError as e:
        return _fail(sub, BROKEN, f"invalid JSON ({e})")
    if not isinstance(nb, dict):
        return _fail(sub, BROKEN, "JSON but not a notebook (no object at the top)")
    major = nb.get("nbformat")
    if major != 4:
        hint = "; open it in Jupyter and save it again" if major == 3 else ""
        return _fail(sub, REFUSED, f"nbformat {major!r}, not 4{hint}")
    cells = nb.get("cells")
    if not isinstance(cells, list) or not cells:
        return _fail(sub, BROKEN, "no cells")
    bad = next((i for i, c in enumerate(cells) if not isinstance(c, dict)
                or c.get("cell_type") not in ("code", "markdown", "raw")), None)
    if bad is not None:
        return _fail(sub, BROKEN, f"cell {bad + 1} is not a notebook cell")
    ids = [c.get("id") for c in cells if c.get("id") is not None]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup is not None:
        return _fail(sub, BROKEN, f"duplicated cell id {str(dup)[:40]!r} (the notebook was edited outside Jupyter)")
    sub.nb = nb
    return sub


def _fail(sub: Submission, status: str, reason: str) -> Submission:
    sub.status, sub.reason, sub.nb = status, reason, None
    return sub


def _clean(name: str) -> str:
    name = " ".join("".join(ch for ch in name if ch.isprintable()).split())
    return name[:120] or "?"


def _from_folder(root: Path, exclude: Path | None) -> list[Submission]:
    subs = []
    skip = exclude.resolve() if exclude is not None else None
    for path in sorted(root.rglob("*.ipynb")):
        rel = path.relative_to(root).as_posix()
        if ".ipynb_checkpoints" in path.parts or (skip is not None and path.resolve().is_relative_to(skip)):
            continue
        student, ident = student_name(rel)
        sub = Submission(student, rel, ident)
        if path.is_symlink():
            subs.append(_fail(sub, REFUSED, "a symbolic link"))
            continue
        try:
            size = path.stat().st_size
            if size > MAX_NOTEBOOK_BYTES:
                subs.append(_fail(sub, REFUSED, f"{size / 1e6:.0f} MB, over the "
                                                f"{MAX_NOTEBOOK_BYTES // 1_000_000} MB a notebook may weigh"))
                continue
            subs.append(parse(sub, path.read_bytes()))
        except OSError as e:
            subs.append(_fail(sub, BROKEN, f"unreadable ({e.strerror or e})"))
    return subs


def _from_zip(path: Path) -> list[Submission]:
    try:
        zf = zipfile.ZipFile(path)
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise MnistlabError(f"unreadable zip ({e})", path) from None
    if len(infos) > MAX_MEMBERS:
        raise MnistlabError(f"{len(infos)} files in the zip, more than {MAX_MEMBERS}", path)
    subs, total = [], 0
    with zf:
        for info in infos:
            name = info.filename
            if info.is_dir() or not name.lower().endswith(".ipynb") or "__MACOSX" in name:
                continue
            student, ident = student_name(name)
            sub = Submission(student, name, ident)
            reason = _unsafe(info)
            if reason:
                subs.append(_fail(sub, REFUSED, reason))
                continue
            try:
                with zf.open(info) as f:
                    data = f.read(MAX_NOTEBOOK_BYTES + 1)  # never trust the header's size
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError) as e:
                subs.append(_fail(sub, BROKEN, f"unreadable in the zip ({e})"))
                continue
            total += len(data)
            if total > MAX_TOTAL_BYTES:
                subs.append(_fail(sub, REFUSED, "the zip unpacks to more than 2 GB; the rest is not read"))
                break
            if info.compress_size and len(data) > 1_000_000 and len(data) / info.compress_size > MAX_RATIO:
                subs.append(_fail(sub, REFUSED, f"compressed {len(data) // info.compress_size}:1, a zip bomb"))
                continue
            subs.append(parse(sub, data))
    return subs


def _unsafe(info: zipfile.ZipInfo) -> str:
    """Why a zip member is refused ("" when it is not)."""
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        return "its path in the zip leaves the archive (path traversal)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link in the zip"
    if info.file_size > MAX_NOTEBOOK_BYTES:
        return f"{info.file_size / 1e6:.0f} MB once unpacked, over the {MAX_NOTEBOOK_BYTES // 1_000_000} MB limit"
    if info.compress_size and info.file_size > 1_000_000 and info.file_size / info.compress_size > MAX_RATIO:
        return f"compressed {info.file_size // info.compress_size}:1, a zip bomb"
    return ""


def _unique_names(subs: list[Submission]) -> None:
    """Two submissions of one student (two notebooks) keep apart: the second gets its file's name added."""
    seen: dict[str, int] = {}
    for s in subs:
        seen[s.student] = seen.get(s.student, 0) + 1
    for s in subs:
        if seen[s.student] > 1:
            s.student = f"{s.student} ({PurePosixPath(s.file).name})"
