"""``mnistlab grade --execute``: each notebook in the bubblewrap sandbox with time, memory and network limits
(the hostile notebooks are in test_grade_sandbox.py)."""

from __future__ import annotations

import json

import pytest
from nbformat import v4

from mnistlab.grade import execute, sandbox

pytestmark = pytest.mark.skipif(not sandbox.available(), reason="bubblewrap (bwrap) is not installed: "
                                                                "apt-get install bubblewrap")


def _nb(*sources: str) -> dict:
    nb = v4.new_notebook()
    nb.cells = [v4.new_code_cell(s) for s in sources]
    return json.loads(json.dumps(nb))


NET = ("import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    print('NET')\n"
       "except OSError as e:\n    print('NONET')")


def test_execution_is_sandboxed_and_cached(tmp_path):
    nb = _nb("print(6 * 7)", "import os\nprint(os.getcwd())", NET, "x = bytearray(3 * 1024 ** 3)")
    r = execute.run(nb, "d1", tmp_path / "cache", execute.Settings(60, 1500))
    assert r.status == "OK" and not r.cached, r.reason
    out = [c["outputs"] for c in r.nb["cells"]]
    text = ["".join(o[0].get("text", "")) for o in out]
    assert text[0] == "42\n"
    assert text[1] == f"{sandbox.ROOT}/work\n"  # the sandbox's own tmpfs
    assert text[2] == "NONET\n" and "network (none)" in execute.isolation()
    assert out[3][0]["ename"] == "MemoryError"  # the per-process memory limit holds in the kernel
    again = execute.run(nb, "d1", tmp_path / "cache", execute.Settings(60, 1500))
    assert again.cached and again.status == "OK" and again.nb == r.nb


def test_a_notebook_past_its_time_limit_is_timeout(tmp_path):
    r = execute.run(_nb("import time\ntime.sleep(120)"), "d2", tmp_path / "cache", execute.Settings(6, 1500))
    assert r.status == "TIMEOUT" and "6 s" in r.reason and r.seconds < 30


@pytest.mark.slow
def test_without_data_the_failed_load_is_the_graders_error(tmp_path):
    """No --data: the lab's load_data() cannot be served in the sandbox (no network there). That is the
    grader's error, said as such, and the notebook keeps the grade of its hand-in; it is not cached."""
    import grade_cohort as gc

    from mnistlab.grade import Options, grade

    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "Alice.ipynb").write_text(json.dumps(gc.lab_notebook("Alice", seed=1)))
    gc.bands_file(tmp_path / "bands.json")
    entries = grade(subs, tmp_path / "out", Options(reference=str(tmp_path / "bands.json"), execute=True,
                                                   timeout_s=300, memory_mb=4096))
    e = entries[0]
    assert e["status"] == "GRADER_ERROR" and "--data" in e["reason"], e["reason"]
    assert e["marks"] and e["total"] > 0  # the static grade, kept
    assert "execution-errors" not in [f for f, _ in e["flags_evidence"]]
    assert not list((tmp_path / "out" / "cache").glob("*.json"))
    page = (tmp_path / "out" / "feedback" / "Alice.html").read_text(encoding="utf-8")
    assert "correcteur" in page


def test_a_hand_in_without_outputs_is_graded_on_its_re_execution(tmp_path):
    import grade_cohort as gc

    from mnistlab.grade import Options, grade

    nb = _nb("import time\nprint('TensorFlow version: 9.9.9')", "time.sleep(0.1)")
    nb["cells"].insert(0, v4.new_markdown_cell("**Question** : Quelle version de TensorFlow est installée sur "
                                               "votre machine ?\n\n**Réponse** : la version 9.9.9 ici"))
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "Nina.ipynb").write_text(json.dumps(nb))
    (subs / "Slow.ipynb").write_text(json.dumps(_nb("import time\ntime.sleep(120)")))
    gc.bands_file(tmp_path / "bands.json")
    entries = grade(subs, tmp_path / "out", Options(reference=str(tmp_path / "bands.json"), execute=True,
                                                   workers=2, timeout_s=30, memory_mb=1500))
    got = {e["student"]: e for e in entries}
    assert got["Slow"]["status"] == "TIMEOUT" and got["Nina"]["status"] == "OK"
    flags = [f for f, _ in got["Nina"]["flags_evidence"]]
    assert "graded-on-re-execution" in flags and "not-executed" not in flags
    mark = next(m for m in got["Nina"]["marks"] if m.item == "ex1.1.3")
    assert mark.say == "fact.ok" and mark.args["expected"] == "9.9.9"  # checked against the re-executed output
    csv = (tmp_path / "out" / "grades.csv").read_text(encoding="utf-8")
    assert "Slow,Slow.ipynb,TIMEOUT" in csv


@pytest.mark.slow
def test_execute_on_a_dask_cluster(tmp_path):
    """--cluster: the executions run on a scheduler's worker and come back into the cache under --out."""
    from pathlib import Path

    import grade_cohort as gc
    from distributed import LocalCluster

    import mnistlab
    from mnistlab.grade import Options, grade

    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("Ana", "Ben", "Cy"):  # three for one worker: two in flight, the third sent when one is back
        nb = _nb(f"print('TensorFlow version: 1.2.3', {name!r})")
        (subs / f"{name}.ipynb").write_text(json.dumps(nb))
    gc.bands_file(tmp_path / "bands.json")
    src = str(Path(mnistlab.__file__).resolve().parents[1])  # this checkout's src, for the spawned worker
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                      env={"PYTHONPATH": src}) as cluster:
        entries = grade(subs, tmp_path / "out", Options(reference=str(tmp_path / "bands.json"), execute=True,
                                                       cluster=cluster.scheduler_address, timeout_s=60))
    assert [e["status"] for e in entries] == ["OK", "OK", "OK"]
    assert len(list((tmp_path / "out" / "cache").glob("*.ipynb"))) == 3
    assert all("graded-on-re-execution" in [f for f, _ in e["flags_evidence"]] for e in entries)
