"""``mnistlab grade --execute`` against hostile notebooks: each attack is a tiny hand-written notebook (plain Python,
no training), run in the bubblewrap sandbox; it changes nothing but its own result, and the batch finishes."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import socket
import time
import uuid
from pathlib import Path

import pytest
from test_grade_execute import _nb  # one notebook of code cells, as JSON

from mnistlab import cli
from mnistlab.grade import Options, execute, grade, sandbox

pytestmark = pytest.mark.skipif(not sandbox.available(), reason="bubblewrap (bwrap) is not installed: "
                                                                "apt-get install bubblewrap")


def _write(path: Path, nb: dict) -> None:
    path.write_text(json.dumps(nb), encoding="utf-8")


def _texts(nb: dict) -> list[str]:
    return ["".join("".join(o.get("text", "")) for o in c.get("outputs", [])) for c in nb["cells"]]


def _host_processes_with(mark: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if mark.encode() in Path(entry.path, "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


READ = '''import json, os, signal, socket
found = {}
for p in PATHS:
    try:
        found[p] = sorted(os.listdir(p)) if os.path.isdir(p) else open(p, errors="replace").read(300)
    except OSError as e:
        pass
for pid in (GRADER_PID, 1):
    try:
        os.kill(pid, signal.SIGKILL)
        found[f"kill {pid}"] = "sent"
    except OSError as e:
        pass
for family, where in SOCKETS:
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(where)
        found[f"connect {where!r}"] = "connected"
    except OSError as e:
        pass
found["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print(json.dumps(found))
raise RuntimeError(json.dumps(found))'''

WRITE = '''import json, os
done = {}
for p in TARGETS:
    try:
        with open(p, "a") as f:
            f.write("Aaa Attacker,ex1.code,100,\\n")
        done[p] = "written"
    except OSError as e:
        pass
for p in EMPTY:
    try:
        open(p, "w").close()
        done[p] = "emptied"
    except OSError as e:
        pass
print(json.dumps(done))'''

BOMB = '''import subprocess
subprocess.Popen(["/bin/sh", "-c", "sleep 300; : MARK"], start_new_session=True)
started, refused = 0, ""
for i in range(150):
    try:
        subprocess.Popen(["/bin/sh", "-c", "sleep 300; : MARK"])
        started += 1
    except OSError as e:
        refused = str(e)
        break
print("STARTED", started, refused)'''


def test_a_hostile_class_changes_nothing_but_its_own_results(tmp_path):
    """Reading the grader's and other students' files, writing to them, /tmp and HOME, signalling the grader,
    Unix and TCP sockets to the grader's, a setsid daemon and 150 children, killing its own parent: every
    submission gets a status, the others' results and the instructor's files are untouched, nothing survives."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    out.mkdir()
    canary = uuid.uuid4().hex
    overrides = out / "overrides.csv"
    overrides.write_text(f"student,item,points,comment\nZed,ex1.code,1,{canary}\n", encoding="utf-8")
    honest = _nb(f"print('honest work {canary}')")
    _write(subs / "Zed.ipynb", honest)
    zed_bytes = (subs / "Zed.ipynb").read_bytes()
    zed_digest = hashlib.sha256(zed_bytes).hexdigest()
    home, mark = Path.home(), f"mnistlab-mark-{canary}"

    path_sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path_sock.bind(str(tmp_path / "grader.sock"))
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    abstract.bind(f"\0mnistlab-grader-{canary}")
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    servers = (path_sock, abstract, tcp)
    for s in servers:
        s.listen()
        s.setblocking(False)
    unix, inet = int(socket.AF_UNIX), int(socket.AF_INET)
    sockets = [(unix, str(tmp_path / "grader.sock")), (unix, f"\0mnistlab-grader-{canary}"), (inet, tcp.getsockname())]
    paths = ["/etc/passwd", "/etc/shadow", str(out), str(overrides), str(subs), str(subs / "Zed.ipynb"),
             str(home), "/work", str(tmp_path), f"/proc/{os.getpid()}/environ"]
    _write(subs / "Reader.ipynb", _nb(f"PATHS = {paths!r}\nGRADER_PID = {os.getpid()}\nSOCKETS = {sockets!r}",
                                      READ))
    targets = [str(overrides), str(out / "cache" / f"{zed_digest}.json"), f"/tmp/{mark}", str(home / mark)]
    _write(subs / "Writer.ipynb", _nb(f"TARGETS = {targets!r}\nEMPTY = {[str(subs / 'Zed.ipynb')]!r}", WRITE))
    _write(subs / "Bomber.ipynb", _nb(BOMB.replace("MARK", mark), "print('after the bomb')"))
    _write(subs / "Patricide.ipynb", _nb("import os, signal, time\nos.kill(os.getppid(), signal.SIGKILL)\n"
                                         "time.sleep(30)"))
    try:
        entries = grade(subs, out, Options(execute=True, timeout_s=120, memory_mb=1500))
        accepted = [s.accept() for s in servers if _accepts(s)]
    finally:
        for s in servers:
            s.close()
    got = {e["student"]: e for e in entries}
    assert set(got) == {"Zed", "Reader", "Writer", "Bomber", "Patricide"}
    assert all(e["status"] for e in entries)

    reader = json.loads(_texts(execute.cached(out / "cache", _digest(subs / "Reader.ipynb"),
                                              execute.Settings(120, 1500)).nb)[1].splitlines()[0])
    # "kill 1" reaches the sandbox's own init (bwrap's), which the kernel lets ignore it: the cell went on
    leaked = {k: v for k, v in reader.items() if k not in ("pids", "kill 1")}
    # HOME may show only the folders that lead to the bound Python prefix, and nothing in them but it
    prefix_parts = {Path(p).relative_to(home).parts[0] for p in _bound_prefixes() if _under(p, home)}
    if str(home) in leaked:
        assert set(leaked.pop(str(home))) <= prefix_parts
    assert leaked == {}, leaked  # no file, no signal to the grader, no socket
    assert max(reader["pids"]) < 50  # its own PID namespace: a handful of processes, not the machine's
    assert accepted == []

    writer = json.loads(_texts(execute.cached(out / "cache", _digest(subs / "Writer.ipynb"),
                                              execute.Settings(120, 1500)).nb)[1])
    assert writer in ({}, {f"/tmp/{mark}": "written"})  # its own /tmp, inside the sandbox, at most
    assert canary in overrides.read_text(encoding="utf-8") and "Attacker" not in overrides.read_text(encoding="utf-8")
    assert (subs / "Zed.ipynb").read_bytes() == zed_bytes
    assert not Path(f"/tmp/{mark}").exists() and not (home / mark).exists()
    assert got["Zed"]["status"] == "OK" and got["Writer"]["status"] == "OK"

    feedback = "".join(p.read_text(encoding="utf-8") for p in (out / "feedback").glob("*.html"))
    assert "root:x:0:0" not in feedback and f"1,{canary}" not in feedback

    assert got["Bomber"]["status"] == "OK"
    bomb = _texts(execute.cached(out / "cache", _digest(subs / "Bomber.ipynb"), execute.Settings(120, 1500)).nb)
    assert bomb[0].startswith("STARTED") and bomb[1] == "after the bomb\n"
    assert _host_processes_with(mark) == []  # the setsid daemon and the children died with the sandbox

    assert got["Patricide"]["status"] == "BROKEN"
    assert "a tué le processus d'exécution (SIGKILL)" in got["Patricide"]["reason"]  # in the class's language
    assert "mémoire" not in got["Patricide"]["reason"]


def _accepts(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _bound_prefixes() -> list[str]:
    cmd = sandbox._python(None, None)
    return [cmd[i + 1] for i, a in enumerate(cmd) if a == "--ro-bind"]


def _under(path: str, folder: Path) -> bool:
    return Path(path).is_relative_to(folder) and Path(path) != folder


def test_the_memory_of_the_whole_tree_is_capped(tmp_path):
    """Three children of 400 MB each under a 768 MB cap: the tree is stopped, and the reason says so."""
    child = "import time; b = b'x' * (400 << 20); time.sleep(20)"
    nb = _nb(f"import subprocess, sys\nps = [subprocess.Popen([sys.executable, '-c', {child!r}]) for _ in range(3)]\n"
             "print([p.wait() for p in ps])")
    r = execute.fresh(nb, execute.Settings(timeout_s=120, memory_mb=768))
    assert r.status == "BROKEN" and "together went over the 768 MB memory limit" in r.reason, r.reason
    assert r.limit == "memory"


def test_the_disk_is_capped(tmp_path):
    """Writing 2 GiB into the working folder and /tmp stops at the sandbox's tmpfs size; nothing reaches the host."""
    nb = _nb("import errno\nwritten = 0\ntry:\n    for i in range(40):\n"
             "        with open(f'/tmp/fill{i}' if i % 2 else f'fill{i}', 'wb') as f:\n"
             "            f.write(b'x' * (50 << 20))\n        written += 50\n"
             "except OSError as e:\n    print(written, errno.errorcode[e.errno])")
    r = execute.fresh(nb, execute.Settings(timeout_s=120, memory_mb=2048))
    assert r.status == "OK", r.reason
    written, code = _texts(r.nb)[0].split()
    assert int(written) <= sandbox.Limits(1, 1).disk_mb and code == "ENOSPC"


def test_a_flood_on_stdout_is_streamed_not_kept(tmp_path):
    """1 GiB written to the kernel's raw stdout: the grader reads it through and keeps a capped log only."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    nb = _nb("import os\nchunk = b'y' * (1 << 20)\nfor _ in range(1024):\n    os.write(1, chunk)\nprint('done')")
    r = execute.fresh(nb, execute.Settings(timeout_s=300, memory_mb=1500))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert r.status == "OK" and _texts(r.nb)[0] == "done\n", r.reason
    assert grown_mb < 100


def test_a_timeout_keeps_the_static_grade_and_another_timeout_runs_again(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    nb = _nb("print('TensorFlow version: 2.16.1')", "import time\ntime.sleep(120)")
    _write(subs / "Slow.ipynb", nb)
    first = grade(subs, out, Options(execute=True, timeout_s=5, memory_mb=1500))[0]
    assert first["status"] == "TIMEOUT" and "5 s" in first["reason"]
    assert first["total"] is not None and first["marks"]  # graded as handed in
    digest = _digest(subs / "Slow.ipynb")
    start = time.monotonic()
    assert execute.run(nb, digest, out / "cache", execute.Settings(5, 1500)).cached  # same --timeout: reused
    assert time.monotonic() - start < 2
    again = execute.run(nb, digest, out / "cache", execute.Settings(6, 1500))
    assert not again.cached and again.status == "TIMEOUT" and "6 s" in again.reason


def test_without_bwrap_execute_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    subs = tmp_path / "subs"
    subs.mkdir()
    _write(subs / "Ana.ipynb", _nb("print(1)"))
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    rc = cli.main(["grade", str(subs), "--out", str(tmp_path / "out"), "--execute"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "apt-get install bubblewrap" in err[0]
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_a_bad_data_folder_is_the_graders_error(tmp_path, capsys):
    subs = tmp_path / "subs"
    subs.mkdir()
    _write(subs / "Ana.ipynb", _nb("print(1)"))
    (tmp_path / "empty").mkdir()
    rc = cli.main(["grade", str(subs), "--out", str(tmp_path / "out"), "--execute", "--data", str(tmp_path / "empty")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and "--data" in err[-1] and "mnist" in err[-1]


@pytest.mark.slow
def test_quick_serves_the_data_sliced_and_trains_one_epoch(shared_datasets):
    """--data and --quick inside the sandbox: the lab's own load_data() call, sliced, and fit at 1 epoch."""
    nb = _nb("from tensorflow.keras.datasets import mnist\nimport keras\n"
             "(x, y), (xt, yt) = mnist.load_data()\nprint(x.shape, xt.shape)",
             "m = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)])\n"
             "m.compile('adam', keras.losses.SparseCategoricalCrossentropy(from_logits=True))\n"
             "print(len(m.fit(x, y, epochs=5, verbose=0).history['loss']))")
    r = execute.fresh(nb, execute.Settings(timeout_s=600, memory_mb=4096, data=str(shared_datasets), quick=True))
    assert r.status == "OK", r.reason
    from mnistlab.notebook import loader

    assert _texts(r.nb)[:2] == [f"({loader.QUICK_TRAIN}, 28, 28) ({loader.QUICK_TEST}, 28, 28)\n", "1\n"]


def test_sigkill_of_the_sandbox_leaves_nothing(tmp_path):
    """The grader's own kill (the time limit) takes the whole PID namespace, whatever was started in it."""
    mark = f"mnistlab-mark-{uuid.uuid4().hex}"
    nb = _nb(f"import subprocess\nfor _ in range(5):\n    subprocess.Popen(['/bin/sh', '-c', 'sleep 300; : {mark}'],"
             " start_new_session=True)\nimport time\ntime.sleep(300)")
    from concurrent.futures import ThreadPoolExecutor

    seen = 0
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(execute.fresh, nb, execute.Settings(timeout_s=25, memory_mb=1500))
        while not running.done():
            seen = max(seen, len(_host_processes_with(mark)))
            time.sleep(0.5)
    assert running.result().status == "TIMEOUT"
    assert seen == 5  # the daemons ran (seen from the host) ...
    assert _host_processes_with(mark) == []  # ... and died with the sandbox


def test_without_a_memory_cgroup_the_watchdog_caps_the_tree(monkeypatch):
    """The fallback where no memory cgroup can be made: the same three children, stopped by the watchdog."""
    found = sandbox.capabilities()
    monkeypatch.setattr(sandbox, "capabilities", lambda: sandbox.Capabilities(found.bwrap, "", found.pids, "test"))
    child = "import time; b = b'x' * (400 << 20); time.sleep(20)"
    nb = _nb(f"import subprocess, sys\nps = [subprocess.Popen([sys.executable, '-c', {child!r}]) for _ in range(3)]\n"
             "print([p.wait() for p in ps])")
    r = execute.fresh(nb, execute.Settings(timeout_s=120, memory_mb=768))
    assert r.status == "BROKEN" and "together went over the 768 MB memory limit" in r.reason, r.reason


@pytest.mark.slow
def test_quick_is_a_provenance_check_not_a_result_check(tmp_path, shared_datasets):
    """The lab's first exercise with its submitted outputs, re-executed with --quick: its numbers (1 epoch on
    2,048 images) are never compared with the submitted ones; the grade is the hand-in's."""
    import grade_cohort as gc

    nb = gc.lab_notebook("Quinn", seed=3)
    cut = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and "fashion_mnist" in c["source"])
    nb["cells"] = nb["cells"][:cut]  # the first exercise (MNIST, dense) only
    subs = tmp_path / "subs"
    subs.mkdir()
    _write(subs / "Quinn.ipynb", nb)
    gc.bands_file(tmp_path / "bands.json")
    static = grade(subs, tmp_path / "static", Options(reference=str(tmp_path / "bands.json")))[0]
    quick = grade(subs, tmp_path / "out", Options(reference=str(tmp_path / "bands.json"), execute=True, quick=True,
                                                 data=str(shared_datasets), timeout_s=900, memory_mb=4096))[0]
    assert quick["status"] == "OK", quick["reason"]
    flags = [f for f, _ in quick["flags_evidence"]]
    assert not [f for f in flags if f.startswith(("outputs-inconsistent", "quick-missing"))], flags
    assert quick["total"] == static["total"]
    assert list((tmp_path / "out" / "cache").glob("*-quick.ipynb"))
