"""Sweeps and task building without a cluster: grids checked before anything starts, tasks chained by model,
results written atomically, the sweep table chosen on validation; one tiny sweep on real data."""

import json

import pytest

from mnistlab import cli, config
from mnistlab.distributed import sweep, tasks
from mnistlab.distributed.run import build_tasks, write_step_files
from mnistlab.errors import ConfigError, DataError, MnistlabError
from mnistlab.report import sweep as report_sweep

QUICK = ["--set", "epochs=1", "--set", "train_limit=600", "--set", "test_limit=200"]


def test_grid_is_typed_like_set_and_every_combination_checked_first():
    p = sweep.plan("ex2.ann", ["hidden_units=[[128,64],[256,128]]", "learning_rate=[1e-3,3e-4]"],
                   {"epochs": 2}, seeds=3)
    assert [s["overrides"] for s in p["settings"]] == [
        {"hidden_units": [128, 64], "learning_rate": 0.001}, {"hidden_units": [128, 64], "learning_rate": 0.0003},
        {"hidden_units": [256, 128], "learning_rate": 0.001}, {"hidden_units": [256, 128], "learning_rate": 0.0003}]
    assert [s["id"] for s in p["settings"]] == ["s01", "s02", "s03", "s04"] and p["seeds"] == [42, 43, 44]
    assert p["settings"][3]["config"]["hidden_units"] == [256, 128] and p["settings"][3]["config"]["epochs"] == 2
    # One bad combination is an error before anything runs: [64] needs one dropout rate, ex2.ann has two.
    with pytest.raises(ConfigError, match="dropout needs one rate per hidden layer"):
        sweep.plan("ex2.ann", ["hidden_units=[[128,64],[64]]"], {}, seeds=1)


@pytest.mark.parametrize("experiment,grid,message", [
    ("ex2.ann", ["hiden_units=[[1]]"], "unknown key 'hiden_units' (did you mean 'hidden_units'?)"),
    ("ex2.ann", ["learning_rate=[fast]"], "non-empty TOML list"),
    ("ex2.ann", ["batch_size=['big']"], "batch_size must be an integer, got 'big'"),
    ("ex2.ann", ["epochs=[1]", "epochs=[2]"], "given twice"),
    ("ex2.ann", ["validation=['test','split']"], "would choose on the test set"),
    ("ex2.confusion", ["epochs=[1]"], "is a confusion step"),
    ("ex9", ["epochs=[1]"], "no experiment named 'ex9'"),
    ("ex2.ann", [], "at least one --grid"),
])
def test_bad_grids_are_refused(experiment, grid, message):
    with pytest.raises(ConfigError) as e:
        sweep.plan(experiment, grid, {}, seeds=2)
    assert message in str(e.value)


def test_bad_grid_on_the_command_line_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "s"
    assert cli.main(["sweep", "ex2.ann", "--grid", "epoch=[1,2]", "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip() == ("mnistlab: error: unknown key 'epoch' (did you mean 'epochs'?)")
    assert not out.exists()


def test_ex1_sweep_validates_on_train_not_test():
    p = sweep.plan("ex1", ["epochs=[1,2]"], {}, seeds=1)
    assert all(s["config"]["validation"] == "split" for s in p["settings"])
    assert "the test set never chooses" in p["notes"][0]


def _exps(*names, **overrides):
    return [config.load(n, overrides) for n in names]


def test_children_follow_their_parent_and_extra_seeds_are_their_own_tasks():
    exps = _exps("ex2.ann", "ex2.cnn", "ex2.confusion", "ex2.augment")
    got = build_tasks(exps, 3, lambda n: False, lambda n, s: False, lambda n: pytest.fail("nothing shipped"))
    assert [(t.key, [s.rel for s in t.steps]) for t in got] == [
        ("ex2.ann@42", ["ex2.ann"]), ("ex2.ann@43", ["ex2.ann/seeds/43"]), ("ex2.ann@44", ["ex2.ann/seeds/44"]),
        ("ex2.cnn@42", ["ex2.cnn", "ex2.confusion", "ex2.augment"]),
        ("ex2.cnn@43", ["ex2.cnn/seeds/43"]), ("ex2.cnn@44", ["ex2.cnn/seeds/44"])]
    assert got[1].steps[0].config["seed"] == 43 and got[0].steps[0].config["seed"] == 42


def test_a_child_of_a_finished_parent_gets_its_model_with_its_digest():
    exps = _exps("ex2.cnn", "ex2.confusion", "ex2.augment")
    got = build_tasks(exps, 2, lambda n: n == "ex2.cnn", lambda n, s: True, lambda n: ("ab" * 32, b"model"))
    assert [(t.key, [s.rel for s in t.steps], t.parent_model) for t in got] == [
        ("ex2.confusion@42", ["ex2.confusion"], ("ex2.cnn", "ab" * 32, b"model")),
        ("ex2.augment@42", ["ex2.augment"], ("ex2.cnn", "ab" * 32, b"model"))]


def test_shipped_model_with_a_wrong_digest_is_refused(tmp_path):
    exp = config.load("ex2.confusion")
    task = tasks.Task("x", (tasks.StepSpec("ex2.confusion", exp.to_dict()),), ("ex2.cnn", "0" * 64, b"model"))
    with pytest.raises(MnistlabError, match="the model of ex2.cnn was damaged on its way"):
        tasks._run_steps(task, tasks.Env(), tmp_path)


def test_results_are_checked_then_written_with_metrics_last(tmp_path, monkeypatch):
    import hashlib

    def f(data):
        return hashlib.sha256(data).hexdigest(), data

    files = {"metrics.json": f(b"{}"), "history.csv": f(b"epoch\n1\n"), "figures/loss.png": f(b"png")}
    with pytest.raises(MnistlabError, match="history.csv: damaged on its way"):
        write_step_files(tmp_path, "ex1", {**files, "history.csv": ("0" * 64, b"epoch\n")})
    assert not (tmp_path / "ex1").exists()
    order = []
    real = __import__("mnistlab.distributed.run", fromlist=["write_bytes"]).write_bytes
    monkeypatch.setattr("mnistlab.distributed.run.write_bytes", lambda p, d: (order.append(p.name), real(p, d)))
    digests = write_step_files(tmp_path, "ex1", files)
    assert order[-1] == "metrics.json" and (tmp_path / "ex1" / "figures" / "loss.png").read_bytes() == b"png"
    assert digests["history.csv"] == files["history.csv"][0]


def test_version_difference_names_both_versions():
    mine = {"mnistlab": "0.1.0", "tensorflow": "2.21.0", "keras": "3.15.1"}
    tasks.check_versions(mine, dict(mine), "worker tcp://h:1")
    with pytest.raises(tasks.VersionMismatch) as e:
        tasks.check_versions(mine, {**mine, "keras": "3.9.0"}, "worker tcp://h:1")
    assert str(e.value).startswith("worker tcp://h:1 runs keras 3.9.0 but this machine runs keras 3.15.1")


def test_worker_with_other_data_refuses(shared_datasets):
    env = tasks.Env(data_dir=str(shared_datasets))
    ds = tasks.get_dataset("mnist", env)
    good = tasks.data_digests(ds)
    assert tasks.get_dataset("mnist", tasks.Env(data_dir=str(shared_datasets), data_digests={"mnist": good})) is ds
    other = {**good, "y_train": "f" * 64}
    with pytest.raises(DataError, match=r"mnist here \(.*\) is not the client's: y_train has sha256"):
        tasks.get_dataset("mnist", tasks.Env(data_dir=str(shared_datasets), data_digests={"mnist": other}))


def test_threads_setting_is_checked(monkeypatch):
    monkeypatch.setenv("MNISTLAB_THREADS", "2")
    assert tasks.configured_threads() == 2
    monkeypatch.setenv("MNISTLAB_THREADS", "many")
    with pytest.raises(MnistlabError, match="MNISTLAB_THREADS must be a positive whole number"):
        tasks.configured_threads()


# --- the sweep's table, on hand-made folders --------------------------------------------------------------


def _sweep_folder(tmp_path, val, n_val=1000, test=0.9):
    """val: {setting id: {seed: validation accuracy}}."""
    seeds = sorted({s for v in val.values() for s in v})
    settings = [{"id": sid, "overrides": {"learning_rate": 10.0 ** -(i + 2)}} for i, sid in enumerate(val)]
    (tmp_path / "sweep.json").write_text(json.dumps({"experiment": "ex2.ann", "grid": {}, "settings": settings,
                                                     "seeds": seeds}))
    for sid, per_seed in val.items():
        for seed, acc in per_seed.items():
            d = tmp_path / sid / str(seed)
            d.mkdir(parents=True)
            d.joinpath("metrics.json").write_text(json.dumps({
                "final_val_accuracy": acc, "test_accuracy": test + seed / 1e4, "n_validation": n_val,
                "n_test": 10000}))
    return tmp_path


def test_sweep_chooses_on_validation_and_tests_differences_over_seeds(tmp_path):
    folder = _sweep_folder(tmp_path, {"s01": {42: 0.80, 43: 0.81, 44: 0.79}, "s02": {42: 0.90, 43: 0.91, 44: 0.89},
                                      "s03": {42: 0.90, 43: 0.88, 44: 0.905}})
    data = report_sweep.summarise(folder)
    assert data["chosen"]["id"] == "s02" and data["chosen"]["tied"] == ["s03"]
    s01, s03 = data["settings"][0], data["settings"][2]
    assert s01["versus_chosen"]["test"] == "welch" and s01["versus_chosen"]["exceeds_noise"] is True
    assert s03["versus_chosen"]["exceeds_noise"] is False
    assert data["chosen"]["test_mean"] == pytest.approx(0.9043) and data["chosen"]["test_seeds"] == 3
    md = report_sweep.section(folder, "en").markdown()
    assert "Chosen setting: **s02**" in md and "No measurable difference from s03" in md
    assert "| s01 | `learning_rate=0.01` | 3 | 0.8000 ± 0.0100 | −10.00 points | yes (p = " in md
    assert md.count("0.9043") == 1  # the test accuracy is shown once, for the chosen setting only


def test_sweep_with_one_seed_uses_the_binomial_standard_error(tmp_path):
    folder = _sweep_folder(tmp_path, {"s01": {42: 0.90}, "s02": {42: 0.91}, "s03": {42: 0.80}}, n_val=1000)
    data = report_sweep.summarise(folder)
    s01, s03 = data["settings"][0]["versus_chosen"], data["settings"][2]["versus_chosen"]
    # se = sqrt(.9*.1/1000) = 0.0095 and sqrt(.91*.09/1000) = 0.0090: 0.01 apart is z = 0.76, within the noise
    assert s01["test"] == "binomial" and s01["z"] == pytest.approx(0.7624, abs=1e-3)
    assert s01["exceeds_noise"] is False and s03["exceeds_noise"] is True
    assert "binomial standard error (one seed)" in report_sweep.section(folder, "en").markdown()


def test_a_lab_run_has_no_sweep_section(tmp_path):
    assert report_sweep.section(tmp_path, "fr") is None


@pytest.mark.slow
def test_tiny_sweep_in_process_writes_folder_summary_and_report(tmp_path, shared_datasets, capsys):
    out = tmp_path / "sw"
    assert cli.main(["sweep", "ex2.ann", "--grid", "hidden_units=[[32],[64]]", "--grid", "dropout=[[0.0]]",
                     "--seeds", "2", "--out", str(out), "--data", str(shared_datasets), "--lang", "en", *QUICK]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["kind"] == "sweep"
    assert sorted(manifest["sweep_tasks"]) == ["s01/42", "s01/43", "s02/42", "s02/43"]
    summary = report_sweep.summarise(out)
    assert summary["chosen"]["id"] in ("s01", "s02") and len(summary["settings"][0]["val"]) == 2
    md = (out / "report.en.md").read_text()  # --lang en: the English files, beside where the French go
    assert "Sweep of `ex2.ann`" in md and "Chosen setting: **" in md
    capsys.readouterr()
    assert cli.main(["report", str(out), "--lang", "en"]) == 0
    assert "missing" not in capsys.readouterr().err  # a sweep is not a lab run with steps missing
    # --resume keeps every finished task (their files checked)
    assert cli.main(["sweep", "--resume", str(out)]) == 0
    assert json.loads((out / "manifest.json").read_text())["sweep_tasks"] == manifest["sweep_tasks"]


# --- untrusted sweep.json on --resume, grids too large or too deep ----------------------------------------


def _doctored(tmp_path, change):
    """A sweep folder holding a real plan's sweep.json after ``change(plan)``; returns (folder, its files)."""
    plan = sweep.plan("ex2.ann", ["learning_rate=[1e-3,3e-3]"], {"epochs": 1}, seeds=2)
    change(plan)
    folder = tmp_path / "runs" / "sw"
    folder.mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps(plan))
    (folder / "s01" / "42").mkdir(parents=True)
    (folder / "s01" / "42" / "metrics.json").write_text('{"final_val_accuracy": 0.5}')
    return folder, _files(tmp_path)


def _files(root):
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _set(path, value):
    def change(plan):
        *keys, last = path
        node = plan
        for k in keys:
            node = node[k]
        node[last] = value
    return change


@pytest.mark.parametrize("change, message", [
    (_set(["settings", 0, "id"], "../../elsewhere"), "id must be s and two or three digits"),
    (_set(["settings", 1, "id"], "s01"), "two settings have the same id"),
    (_set(["settings", 0, "config", "epochs"], -5), "setting s01 is not what its grid gives"),
    (_set(["settings", 0, "overrides", "learning_rate"], "x"), "setting s01 is not what its grid gives"),
    (_set(["grid", "learning_rate"], ["x"]), "learning_rate must be a number"),
    (_set(["grid", "seed"], [1, 2]), "seeds are not a setting"),
    (_set(["seeds"], ["x", 2**40]), "seeds must be a list of whole numbers"),
    (_set(["seeds"], [42, 44]), "seeds must follow one another"),
    (_set(["settings"], [{"id": "s01"}, "junk", 5]), "setting 1 must be an object"),
    (_set(["settings"], "all"), "settings must be a list"),
    (_set(["experiment"], 7), "experiment must be an experiment's name"),
    (_set(["experiment"], "ex2.confusion"), "is a confusion step"),
])
def test_a_doctored_sweep_json_is_one_line_and_nothing_runs(tmp_path, capsys, change, message):
    folder, before = _doctored(tmp_path, change)
    assert cli.main(["sweep", "--resume", str(folder)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and str(folder / "sweep.json") in err, err
    assert _files(tmp_path) == before  # nothing written, inside the folder or beside it


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "not a JSON object"), ('{"experiment": NaN}', "unreadable"), ("{" * 5000, "unreadable"),
])
def test_a_sweep_json_that_is_not_a_plan_is_one_line(tmp_path, capsys, text, message):
    (tmp_path / "sweep.json").write_text(text)
    assert cli.main(["sweep", "--resume", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_the_report_skips_a_sweep_json_with_junk_settings(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps({"experiment": "ex2.ann", "grid": {}, "overrides": {},
                                                     "settings": [{"id": "s01"}, "junk", 5], "seeds": [42]}))
    assert report_sweep.summarise(tmp_path) is None and report_sweep.section(tmp_path) is None


@pytest.mark.parametrize("grid, message", [
    (["hidden_units=" + "[" * 3000 + "]" * 3000], "nested too deeply"),
    (["hidden_units=[" + ",".join(["[8]"] * 4000) + "]"], "over 10,000 characters"),
    ([f"{k}=[{','.join(str(i) for i in range(1, 21))}]" for k in ("epochs", "batch_size", "train_limit",
                                                                   "test_limit")], "160,000 setting(s)"),
    (["seed=[1,2]"], "give --seeds N"),
    (["step=['confusion']"], "confusion step"),
])
def test_unreasonable_grids_are_refused_before_anything_is_written(tmp_path, capsys, grid, message):
    import time

    out = tmp_path / "s"
    t0 = time.monotonic()
    args = [a for g in grid for a in ("--grid", g)]
    assert cli.main(["sweep", "ex2.ann", *args, "--out", str(out)]) == 1
    assert time.monotonic() - t0 < 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err[:300]
    assert not out.exists()


def test_a_missing_data_folder_is_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "s"
    assert cli.main(["sweep", "ex2.ann", "--grid", "epochs=[1,2]", "--data", str(tmp_path / "none"),
                     "--out", str(out)]) == 1
    assert "--data: no such folder" in capsys.readouterr().err and not out.exists()


def test_the_producers_never_import_a_reader():
    """distributed/ writes run folders; the report reads them: no import from the first to the second."""
    import ast
    from pathlib import Path

    import mnistlab.distributed

    for path in Path(mnistlab.distributed.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not [n for n in names if n.startswith(("mnistlab.report", "mnistlab.notebook"))], path


def _setting(acc: float, n: int, seeds: int = 1) -> dict:
    values = {str(s): acc + 0.001 * s for s in range(seeds)} if seeds > 1 else {"0": acc}
    return {"val": values, "val_mean": sum(values.values()) / len(values), "n_validation": n}


@pytest.mark.parametrize("a, b, exceeds", [
    (0.9116, 0.9000, False),  # z = 1.99 on 5,000 images a side: beyond 1.96, inside the judge's 2
    (0.9150, 0.9000, True),  # z = 2.59
    (0.9500, 0.9000, False),  # no validation images: nothing to judge with
])
def test_one_seed_sweep_comparisons_follow_the_judges_two_standard_errors(a, b, exceeds):
    n = 0 if a == 0.95 else 5000
    got = report_sweep.compare(_setting(a, n), _setting(b, n))
    assert got["test"] == "binomial" and got["exceeds_noise"] is exceeds
    if n:
        se = ((a * (1 - a) + b * (1 - b)) / n) ** 0.5
        assert got["z"] == pytest.approx((a - b) / se)


def test_ctrl_c_in_a_sweep_says_how_to_resume_and_reports_what_exists(tmp_path, monkeypatch, capsys):
    def interrupted(self, names=None):
        self.manifest["status"] = "interrupted"
        raise KeyboardInterrupt

    reports = []
    from mnistlab.runner import Runner

    monkeypatch.setattr(Runner, "run", interrupted)
    monkeypatch.setattr(cli, "_report_after_run", lambda run_dir, lang: reports.append((str(run_dir), lang)))
    out = tmp_path / "sw"
    assert cli.main(["sweep", "ex1", "--grid", "learning_rate=[0.1,0.01]", "--seeds", "1", "--out", str(out),
                     "--lang", "en"]) == 130
    assert f"mnistlab sweep --resume {out}" in capsys.readouterr().err
    assert reports == [(str(out), "en")]
