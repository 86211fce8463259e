"""A class's submissions, read safely: a folder of ``.ipynb`` files or a Moodle "download all" zip.

Nothing is extracted to disk and nothing is executed here. Every notebook is untrusted: a zip member that
leaves the archive (``../``, an absolute path, a link), a zip bomb, a file over :data:`MAX_NOTEBOOK_BYTES`, a
file that is not a regular file (a FIFO, a device, a socket, a link, a folder), invalid JSON, nbformat 3, a
notebook without cells or with duplicated cell ids gets a status (``REFUSED`` or ``BROKEN``) and a one-line
reason; the other submissions go on.

:func:`collect` only lists the submissions (names, and what can be refused without reading); :func:`load`
reads one and :func:`release` forgets its notebook, so a class is graded one notebook in memory at a time.
Every check here runs in time linear in the notebook's size.

Moodle names each student's folder ``<Full name>_<participant id>_assignsubmission_file_``; the name and the
id are read from it (the id feeds the Moodle grade import).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import threading
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mnistlab.errors import MnistlabError

OK, BROKEN, TIMEOUT, REFUSED = "OK", "BROKEN", "TIMEOUT", "REFUSED"
MAX_NOTEBOOK_BYTES = 50_000_000  # a lab notebook with its figures is ~1-5 MB; 500 MB of outputs is refused
MAX_MEMBERS = 5000  # files in one zip
MAX_TOTAL_BYTES = 2_000_000_000  # uncompressed bytes read from one zip (in all; one notebook is in memory at once)
MAX_CELLS = 10_000  # cells in one notebook (a lab notebook has about 100)
MAX_JSON_VALUES = 2_000_000  # ``,`` ``[`` ``{`` in a notebook's bytes: bounds the objects its JSON makes
MAX_NAME_BYTES = 80  # a stored file name's stem (feedback/<stem>.html), UTF-8 bytes; file systems allow 255
MAX_RATIO = 200  # uncompressed / compressed size above which a large member is taken for a bomb
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_(assignsubmission|onlinetext|file)")


@dataclass
class Submission:
    """One student's notebook: ``student`` (a display name), ``file`` (where it came from), ``ident`` (the
    Moodle participant id, or ""), ``nb`` (the notebook's JSON, None unless readable), ``status``, ``reason``,
    ``digest`` (SHA-256 of its bytes, once read), ``stored`` (the stem of its files under ``--out``: unique,
    case-insensitively, and short)."""

    student: str
    file: str
    ident: str = ""
    nb: dict | None = None
    status: str = OK
    reason: str = ""
    digest: str = ""
    flags: list[str] = field(default_factory=list)
    stored: str = ""
    reader: Callable[[], bytes] | None = field(default=None, repr=False)  # its bytes, read when graded


class Refused(Exception):
    """A submission refused while reading it (the message is the reason)."""


def collect(source: str | Path, exclude: Path | None = None) -> list[Submission]:
    """Every submission in ``source`` (a folder, searched recursively, or a ``.zip``), sorted by student, not read
    yet (:func:`load` reads one); those refused from their listing (a link, a FIFO, an unsafe zip member)
    already have their status.

    ``exclude``: a folder not searched (the grader's own output, when it lies inside ``source``).

    Raises:
        MnistlabError: ``source`` is neither a folder nor a readable zip, or holds no notebook (the only
        batch-level failures).
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
    if not subs:
        raise MnistlabError("no notebook (.ipynb) in it, so nothing to grade", source)
    _unique_names(subs)
    subs.sort(key=lambda s: (s.student.casefold(), s.file))
    for s, stem in zip(subs, stored_names([s.student for s in subs]), strict=True):
        s.stored = stem
    return subs


def load(sub: Submission) -> Submission:
    """Read ``sub``'s notebook (once; nothing when it already has a status other than OK); returns ``sub``."""
    if sub.nb is not None or sub.status != OK or sub.reader is None:
        return sub
    try:
        data = sub.reader()
    except Refused as e:
        return _fail(sub, REFUSED, str(e))
    except OSError as e:
        return _fail(sub, BROKEN, f"unreadable ({e.strerror})" if e.strerror else str(e))
    return parse(sub, data)


def release(sub: Submission) -> None:
    """Forget ``sub``'s notebook (it is read again by :func:`load` if needed)."""
    sub.nb = None


def student_name(relpath: str) -> tuple[str, str]:
    """(student display name, Moodle participant id or "") from a submission's relative path."""
    parts = PurePosixPath(relpath).parts
    for part in parts[:-1]:
        m = _MOODLE.match(part)
        if m:
            return _clean(m["name"]), m["id"]
    return _clean(PurePosixPath(relpath).stem), ""


def slug(name: str) -> str:
    """A file name's stem for a name: letters, digits, ``-`` and ``_`` only; accents dropped from Latin
    letters, other scripts kept (NFC); at most :data:`MAX_NAME_BYTES` UTF-8 bytes; "" when nothing is left."""
    return _cut(_slug(name), MAX_NAME_BYTES)


def _slug(name: str) -> str:
    nfc = unicodedata.normalize("NFC", name)
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", nfc) if not unicodedata.combining(ch))
    return re.sub(r"[^\w-]+", "_", plain if plain.isascii() else nfc).strip("_-")


def _cut(text: str, max_bytes: int) -> str:
    """``text`` cut to ``max_bytes`` UTF-8 bytes, at a character's boundary."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore").strip("_-")


_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def stored_names(names: list[str]) -> list[str]:
    """A file name stem per name (in that order), unique even on a case-insensitive file system.

    The stem is :func:`slug` where it stands for the name alone; a name whose slug is empty, cut, reserved
    (``CON``) or already taken (``Dupont`` after ``DUPONT``, NFC after NFD, ``Jean-Luc`` after ``Jean Luc``)
    gets ``-`` and 10 hex digits of its SHA-256 added. The real name stays in the CSV and on the pages.
    """
    taken: set[str] = set()
    out = []
    for name in names:
        full = _slug(name)
        stem = _cut(full, MAX_NAME_BYTES)
        if not stem or stem != full or stem.casefold() in _RESERVED or stem.casefold() in taken:
            digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
            base = _cut(full, MAX_NAME_BYTES - 15) or "student"
            n = 10
            while f"{base}-{digest[:n]}".casefold() in taken:  # the same 10 digits for two names: more digits
                n += 2
            stem = f"{base}-{digest[:n]}"
        taken.add(stem.casefold())
        out.append(stem)
    return out


def parse(sub: Submission, data: bytes) -> Submission:
    """Fill ``sub.nb`` from ``data``, or set its status and reason; returns ``sub``."""
    sub.digest = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_NOTEBOOK_BYTES:
        return _fail(sub, REFUSED, f"{len(data) / 1e6:.0f} MB, over the {MAX_NOTEBOOK_BYTES // 1_000_000} MB "
                                   "a notebook may weigh (clear its outputs' large images)")
    values = _json_values(data)
    if values > MAX_JSON_VALUES:
        return _fail(sub, REFUSED, f"{values:,} JSON values, over the {MAX_JSON_VALUES:,} a notebook may hold")
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
    if len(cells) > MAX_CELLS:
        return _fail(sub, REFUSED, f"{len(cells):,} cells, over the {MAX_CELLS:,} a notebook may have (a lab "
                                   "notebook has about 100)")
    bad = next((i for i, c in enumerate(cells) if not isinstance(c, dict)
                or c.get("cell_type") not in ("code", "markdown", "raw")), None)
    if bad is not None:
        return _fail(sub, BROKEN, f"cell {bad + 1} is not a notebook cell")
    seen: set[str] = set()
    dup = None
    for c in cells:  # a set, not a count per id: linear in the cells (a million cells take a second)
        cid = c.get("id")
        if isinstance(cid, str):
            if cid in seen:
                dup = cid
                break
            seen.add(cid)
    if dup is not None:
        return _fail(sub, BROKEN, f"duplicated cell id {str(dup)[:40]!r} (the notebook was edited outside Jupyter)")
    sub.nb = nb
    return sub


_OTHER_BYTES = bytes(b for b in range(256) if b not in b'",[{')


def _json_values(data: bytes) -> int:
    """About how many values (objects once parsed) JSON ``data`` holds: its ``,`` ``[`` ``{`` outside strings.

    Counted on the bytes first (a bound, quick); only past :data:`MAX_JSON_VALUES` are the strings' own
    ``,`` ``[`` ``{`` (a cell's source ``x=[1,1,...]``) taken out, with bytes operations only (linear, no
    object per value): escaped backslashes and quotes are dropped, so that every ``"`` left opens or closes a
    string, then what lies between the 1st and 2nd, 3rd and 4th ``"`` is the strings' text.
    """
    values = data.count(b",") + data.count(b"[") + data.count(b"{")
    if values <= MAX_JSON_VALUES:
        return values
    bare = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    strings = bare.count(b'"') // 2
    if strings > MAX_JSON_VALUES:
        return strings  # over the cap in strings alone (and the list below would hold one item per string)
    return _outside_strings(bare)


def _outside_strings(bare: bytes) -> int:
    """``,`` ``[`` ``{`` outside strings in JSON without escaped backslashes or quotes."""
    return len(b"".join(bare.translate(None, _OTHER_BYTES).split(b'"')[0::2]))


def _fail(sub: Submission, status: str, reason: str) -> Submission:
    sub.status, sub.reason, sub.nb = status, reason, None
    return sub


def _clean(name: str) -> str:
    name = " ".join("".join(ch for ch in name if ch.isprintable()).split())
    return name[:120] or "?"


_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder named like a notebook"),
          (stat.S_ISFIFO, "a named pipe (FIFO), not a file"), (stat.S_ISSOCK, "a socket, not a file"),
          (stat.S_ISCHR, "a device, not a file"), (stat.S_ISBLK, "a device, not a file"))


def _kind(mode: int) -> str:
    """Why a file of this mode is refused ("" for a regular file)."""
    if stat.S_ISREG(mode):
        return ""
    return next((why for test, why in _KINDS if test(mode)), "not a regular file")


def _from_folder(root: Path, exclude: Path | None) -> list[Submission]:
    subs = []
    skip = exclude.resolve() if exclude is not None else None
    for path in sorted(root.rglob("*.ipynb")):
        rel = path.relative_to(root).as_posix()
        if ".ipynb_checkpoints" in path.parts or (skip is not None and path.resolve().is_relative_to(skip)):
            continue
        student, ident = student_name(rel)
        sub = Submission(student, rel, ident)
        try:
            info = path.lstat()  # never opened unless a regular file: a FIFO would block, a device act
        except OSError as e:
            subs.append(_fail(sub, BROKEN, f"unreadable ({e.strerror or e})"))
            continue
        why = _kind(info.st_mode)
        if why:
            subs.append(_fail(sub, REFUSED, why))
        elif info.st_size > MAX_NOTEBOOK_BYTES:
            subs.append(_fail(sub, REFUSED, f"{info.st_size / 1e6:.0f} MB, over the "
                                            f"{MAX_NOTEBOOK_BYTES // 1_000_000} MB a notebook may weigh"))
        else:
            sub.reader = _file_reader(path)
            subs.append(sub)
    return subs


def _file_reader(path: Path) -> Callable[[], bytes]:
    def read() -> bytes:
        # O_NOFOLLOW and O_NONBLOCK: swapped for a link or a FIFO since it was listed, it neither is followed
        # nor blocks; fstat then says what was opened
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        try:
            why = _kind(os.fstat(fd).st_mode)
            if why:
                raise Refused(why)
            chunks, size = [], 0
            while size <= MAX_NOTEBOOK_BYTES:  # never trust the size listed: the file may have grown
                chunk = os.read(fd, min(1 << 22, MAX_NOTEBOOK_BYTES + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
    return read


class _Zip:
    """A zip kept open while its members are read, one at a time, within a budget of uncompressed bytes."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf, self.left, self.lock = zf, MAX_TOTAL_BYTES, threading.Lock()

    def reader(self, info: zipfile.ZipInfo) -> Callable[[], bytes]:
        def read() -> bytes:
            with self.lock:
                if self.left <= 0:
                    raise Refused(f"not read: the zip's {MAX_TOTAL_BYTES / 1e9:g} GB of unpacked "
                                  "notebooks were spent on the ones before it")
                cap = min(MAX_NOTEBOOK_BYTES + 1, self.left)
                self.left -= cap  # reserved now, the unread rest given back below
            used = 0
            try:
                with self.zf.open(info) as f:
                    data = f.read(cap)  # never trust the header's size
                used = len(data)
            except (zipfile.BadZipFile, ValueError, NotImplementedError, RuntimeError, EOFError) as e:
                raise OSError(f"unreadable in the zip ({e})") from None
            finally:
                with self.lock:
                    self.left += cap - used
            if len(data) == cap and cap <= MAX_NOTEBOOK_BYTES:
                raise Refused(f"not read: the zip's {MAX_TOTAL_BYTES / 1e9:g} GB of unpacked "
                              "notebooks were spent on the ones before it")
            if info.compress_size and len(data) > 1_000_000 and len(data) / info.compress_size > MAX_RATIO:
                raise Refused(f"compressed {len(data) // info.compress_size}:1, a zip bomb")
            return data
        return read


def _from_zip(path: Path) -> list[Submission]:
    try:
        zf = zipfile.ZipFile(path)
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise MnistlabError(f"unreadable zip ({e})", path) from None
    if len(infos) > MAX_MEMBERS:
        zf.close()
        raise MnistlabError(f"{len(infos)} files in the zip, more than {MAX_MEMBERS}", path)
    subs, shared = [], _Zip(zf)
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
        sub.reader = shared.reader(info)
        subs.append(sub)
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
