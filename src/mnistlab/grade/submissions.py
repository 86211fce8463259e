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
from mnistlab.grade.words import Why, why

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
    reason: str = ""  # in English (the grader's own lines); ``why`` writes it in any language
    why: Why | None = None
    digest: str = ""
    flags: list[str] = field(default_factory=list)
    stored: str = ""
    reader: Callable[[], bytes] | None = field(default=None, repr=False)  # its bytes, read when graded


class Refused(Exception):
    """A submission refused while reading it (its one argument, a :class:`Why`, is the reason)."""


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
        return _fail(sub, REFUSED, e.args[0])
    except OSError as e:
        return _fail(sub, BROKEN, why("unreadable", error=e.strerror or str(e)))
    return parse(sub, data)


def digest(sub: Submission) -> str:
    """The SHA-256 of ``sub``'s bytes, read without parsing them (what the execution cache is keyed by);
    ``""`` when it cannot be read (:func:`load` then says why)."""
    if not sub.digest and sub.status == OK and sub.reader is not None:
        try:
            sub.digest = hashlib.sha256(sub.reader()).hexdigest()
        except (Refused, OSError):
            return ""
    return sub.digest


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
        return _fail(sub, REFUSED, why("too_large", mb=round(len(data) / 1e6),
                                       limit=MAX_NOTEBOOK_BYTES // 1_000_000))
    values = _json_values(data)
    if values > MAX_JSON_VALUES:
        return _fail(sub, REFUSED, why("json_values", values=values, limit=MAX_JSON_VALUES))
    try:
        nb = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return _fail(sub, BROKEN, why("not_utf8"))
    except RecursionError:
        return _fail(sub, BROKEN, why("json_deep"))
    except ValueError as e:
        return _fail(sub, BROKEN, why("json_invalid", line=getattr(e, "lineno", "?"),
                                      column=getattr(e, "colno", "?")))
    if not isinstance(nb, dict):
        return _fail(sub, BROKEN, why("not_object"))
    major = nb.get("nbformat")
    if major != 4:
        return _fail(sub, REFUSED, why("nbformat3") if major == 3 else why("nbformat", major=repr(major)[:40]))
    cells = nb.get("cells")
    if not isinstance(cells, list) or not cells:
        return _fail(sub, BROKEN, why("no_cells"))
    if len(cells) > MAX_CELLS:
        return _fail(sub, REFUSED, why("too_many_cells", cells=len(cells), limit=MAX_CELLS))
    bad = next((i for i, c in enumerate(cells) if not isinstance(c, dict)
                or c.get("cell_type") not in ("code", "markdown", "raw")), None)
    if bad is not None:
        return _fail(sub, BROKEN, why("bad_cell", n=bad + 1))
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
        return _fail(sub, BROKEN, why("duplicate_id", id=repr(str(dup)[:40])))
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


def _fail(sub: Submission, status: str, reason: Why) -> Submission:
    sub.status, sub.why, sub.reason, sub.nb = status, reason, str(reason), None
    return sub


def _clean(name: str) -> str:
    name = " ".join("".join(ch for ch in name if ch.isprintable()).split())
    return name[:120] or "?"


_KINDS = ((stat.S_ISLNK, "symlink"), (stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"),
          (stat.S_ISCHR, "device"), (stat.S_ISBLK, "device"))


def _kind(mode: int) -> Why | None:
    """Why a file of this mode is refused (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    return why(next((key for test, key in _KINDS if test(mode)), "not_regular"))


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
            subs.append(_fail(sub, BROKEN, why("unreadable", error=e.strerror or str(e))))
            continue
        odd = _kind(info.st_mode)
        if odd:
            subs.append(_fail(sub, REFUSED, odd))
        elif info.st_size > MAX_NOTEBOOK_BYTES:
            subs.append(_fail(sub, REFUSED, why("too_large", mb=round(info.st_size / 1e6),
                                                limit=MAX_NOTEBOOK_BYTES // 1_000_000)))
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
            odd = _kind(os.fstat(fd).st_mode)
            if odd:
                raise Refused(odd)
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
                    raise Refused(why("zip_spent", gb=f"{MAX_TOTAL_BYTES / 1e9:g}"))
                cap = min(MAX_NOTEBOOK_BYTES + 1, self.left)
                self.left -= cap  # reserved now, the unread rest given back below
            used = 0
            try:
                with self.zf.open(info) as f:
                    data = f.read(cap)  # never trust the header's size
                used = len(data)
            except (zipfile.BadZipFile, ValueError, NotImplementedError, RuntimeError, EOFError) as e:
                raise OSError(f"in the zip: {e}") from None
            finally:
                with self.lock:
                    self.left += cap - used
            if len(data) == cap and cap <= MAX_NOTEBOOK_BYTES:
                raise Refused(why("zip_spent", gb=f"{MAX_TOTAL_BYTES / 1e9:g}"))
            if info.compress_size and len(data) > 1_000_000 and len(data) / info.compress_size > MAX_RATIO:
                raise Refused(why("zip_bomb", ratio=len(data) // info.compress_size))
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
        unsafe = _unsafe(info)
        if unsafe:
            subs.append(_fail(sub, REFUSED, unsafe))
            continue
        sub.reader = shared.reader(info)
        subs.append(sub)
    return subs


def _unsafe(info: zipfile.ZipInfo) -> Why | None:
    """Why a zip member is refused (None when it is not)."""
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        return why("zip_traversal")
    if stat.S_ISLNK(info.external_attr >> 16):
        return why("zip_symlink")
    if info.file_size > MAX_NOTEBOOK_BYTES:
        return why("zip_member_large", mb=round(info.file_size / 1e6), limit=MAX_NOTEBOOK_BYTES // 1_000_000)
    if info.compress_size and info.file_size > 1_000_000 and info.file_size / info.compress_size > MAX_RATIO:
        return why("zip_bomb", ratio=info.file_size // info.compress_size)
    return None


def _unique_names(subs: list[Submission]) -> None:
    """Two submissions of one student (two notebooks) keep apart: the second gets its file's name added."""
    seen: dict[str, int] = {}
    for s in subs:
        seen[s.student] = seen.get(s.student, 0) + 1
    for s in subs:
        if seen[s.student] > 1:
            s.student = f"{s.student} ({PurePosixPath(s.file).name})"
