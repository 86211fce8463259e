"""The benchmark scripts' own arithmetic, on run folders written by hand (the benchmarks themselves run
for minutes and are not tests)."""

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_improved  # noqa: E402


def _experiment(run: Path, name: str, val: list[float], seconds: list[float], test: float, seed: int = 7) -> None:
    folder = run / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"seed": seed, "precision": "bf16"}))
    (folder / "metrics.json").write_text(json.dumps({
        "test_accuracy": test, "final_val_accuracy": val[-1], "best_val_accuracy": max(val),
        "final_accuracy": 0.99, "fit_seconds": sum(seconds) + 0.5, "params": 1234}))
    rows = ["epoch,accuracy,loss,val_accuracy,val_loss,seconds"]
    rows += [f"{i + 1},0.9,0.1,{v},0.05,{s}" for i, (v, s) in enumerate(zip(val, seconds, strict=True))]
    (folder / "history.csv").write_text("\n".join(rows) + "\n")


def test_time_to_accuracy_counts_epochs_up_to_the_first_at_the_goal(tmp_path):
    _experiment(tmp_path, "improved.mnist", [0.990, 0.9951, 0.994, 0.996], [20.0, 21.0, 19.0, 20.0], 0.9955)
    _experiment(tmp_path, "improved.fashion_mnist", [0.91, 0.93], [60.0, 61.0], 0.931)
    mnist = bench_improved.measure(tmp_path, "improved.mnist")
    assert mnist["val_goal_reached"] == {"epoch": 2, "seconds": pytest.approx(41.0)}
    assert mnist["test_goal_met"] and mnist["epochs"] == 4 and mnist["precision"] == "bf16"
    fashion = bench_improved.measure(tmp_path, "improved.fashion_mnist")
    assert fashion["val_goal_reached"] is None and not fashion["test_goal_met"]
    text = bench_improved.table([mnist, fashion], {"cpu": "test CPU", "logical_cores": 2})
    assert "0.9955 (met)" in text and "0.9310 (**not met**)" in text
    assert "epoch 2, 41 s" in text and "not reached" in text and "1,234" in text


def test_seeds_are_summarised_with_spread_and_quiet_machine_time(tmp_path):
    results = []
    for seed, test, slow in ((1, 0.9360, 90.0), (2, 0.9340, 60.0), (3, 0.9380, 95.0)):
        _experiment(tmp_path / str(seed), "improved.fashion_mnist", [0.93, 0.94, 0.945], [60.0, slow, 62.0],
                    test, seed=seed)
        results.append(bench_improved.measure(tmp_path / str(seed), "improved.fashion_mnist"))
    (g,) = bench_improved.summary(results)
    assert g["seeds"] == [1, 2, 3] and g["goal_met"] == 2
    assert g["mean_test_accuracy"] == pytest.approx(0.9360)
    assert g["sd_test_accuracy"] == pytest.approx(0.0020)
    assert g["min_test_accuracy"] == pytest.approx(0.9340)
    # the median epoch (62 s of 60, 60, 60, 62, 62, 62, 90, 95 and 60) stands for the machine's quiet pace
    assert g["median_epoch_seconds"] == pytest.approx(62.0) and g["quiet_fit_seconds"] == pytest.approx(186.0)
    text = bench_improved.table(results, {"cpu": "test CPU", "logical_cores": 2})
    assert "| 1, 2, 3 | 0.935 | 0.9360 ± 0.0020 (0.9340) | 2 of 3 |" in text and "3.1 min: 62 s an epoch" in text
    assert "62 s an epoch) | 3 of 3 within 15 min |" in text


def test_the_table_names_each_recipe_and_the_time_goal(tmp_path):
    _experiment(tmp_path, "improved.mnist", [0.990, 0.996], [130.0, 131.0], 0.9955)
    cfg = json.loads((tmp_path / "improved.mnist" / "config.json").read_text())
    cfg.update(conv_filters=[32, 64, 128], convs_per_block=[1], batch_size=128, lr_schedule="one_cycle",
               learning_rate=0.005, label_smoothing=0.1, cutout=0)
    (tmp_path / "improved.mnist" / "config.json").write_text(json.dumps(cfg))
    r = bench_improved.measure(tmp_path, "improved.mnist")
    assert r["recipe"] == "[32, 64, 128] x 1 convs, batch 128, one_cycle 0.005, label smoothing 0.1"
    assert r["time_goal_seconds"] == 240 and not r["time_goal_met"]  # 261.5 s of fit
    text = bench_improved.table([r], {"cpu": "test CPU", "logical_cores": 2})
    assert "2 epochs (" + r["recipe"] + ")" in text and "| 0 of 1 within 4 min |" in text


def test_a_run_without_improved_models_gives_none(tmp_path):
    assert bench_improved.measure(tmp_path, "improved.mnist") is None


def test_mirror_averaged_runs_show_the_single_view_and_how_they_were_scored(tmp_path):
    _experiment(tmp_path, "improved.fashion_mnist", [0.93, 0.94], [60.0, 61.0], 0.9340)
    r = bench_improved.measure(tmp_path, "improved.fashion_mnist")
    assert not r["test_time_flip"] and r["test_accuracy_single_view"] == 0.9340
    # what rescore() adds to a run made before test_time_flip
    r.update(test_accuracy=0.9390, test_time_flip=True, rescored=True, test_goal_met=True,
             val_accuracy_single_view=0.9400, val_accuracy_mirror=0.9425)
    text = bench_improved.table([r], {"cpu": "test CPU", "logical_cores": 2})
    assert "2 epochs, mirror-averaged test" in text and "(0.9390; image alone 0.9340)" in text
    assert "0.9390 (met; image alone 0.9340)" in text
    assert "changed accuracy by +0.25 points (mean +0.25)" in text and "read twice" in text


def test_records_and_tables_name_the_cpu_kind(tmp_path):
    import machine

    avx2 = {"cpu": "AMD EPYC", "cpu_kind": "avx2", "cpu_flags": ["avx2", "fma"], "logical_cores": 2}
    assert machine.record_path("bench_lab", "2026-12-01T22:00:00+00:00", avx2).name == "bench_lab_2026-12-01_avx2.json"
    assert machine.label(avx2) == "AMD EPYC (avx2: avx2, fma)"
    old = {"cpu": "AMD EPYC", "cpu_kind": "avx512-bf16", "cpu_flags_inferred": ["avx512f", "avx512_bf16"]}
    assert machine.label(old) == "AMD EPYC (avx512-bf16: avx512f, avx512_bf16, inferred (flags not recorded then))"
    assert machine.kind({"cpu": "AMD EPYC"}) == "unknown"
    capped = {"cpu": "Intel Xeon", "cpu_kind": "avx2-capped", "cpu_flags": ["avx2", "fma"],
              "onednn_max_cpu_isa": "AVX2", "cpu_flags_present": ["avx2", "fma", "avx512f", "amx_bf16"]}
    assert machine.label(capped) == ("Intel Xeon (avx2-capped: avx2, fma; oneDNN capped at AVX2 on a CPU with "
                                     "avx2, fma, avx512f, amx_bf16)")
    assert machine.record_path("bench_lab", "2026-12-02", capped).name == "bench_lab_2026-12-02_avx2-capped.json"
    _experiment(tmp_path, "improved.mnist", [0.996], [100.0], 0.9955)
    metrics = tmp_path / "improved.mnist" / "metrics.json"
    metrics.write_text(json.dumps({**json.loads(metrics.read_text()), "precision": "float32"}))
    r = bench_improved.measure(tmp_path, "improved.mnist")
    assert r["precision"] == "float32"  # as it ran, not the "bf16" its config.json asked for
    text = bench_improved.table([r], avx2)
    assert "| improved.mnist, 1 epochs | avx2 | 7 |" in text and "| improved.mnist (seed 7) | avx2 |" in text
    assert "Measured on CPU AMD EPYC (avx2: avx2, fma)" in text


def test_a_new_cpu_kind_gets_its_own_readme_section(tmp_path):
    import results_table

    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- bench:avx512-bf16:begin -->\nold rows\n<!-- bench:avx512-bf16:end -->\n\nafter\n")
    results_table.write_readme_section(*results_table.markers("bench", "avx2"), "avx2 rows", section="bench",
                                       readme=readme)
    results_table.write_readme_section(*results_table.markers("bench", "avx512-bf16"), "new rows",
                                       section="bench", readme=readme)
    assert readme.read_text() == ("# x\n<!-- bench:avx512-bf16:begin -->\nnew rows\n<!-- bench:avx512-bf16:end -->"
                                  "\n\n<!-- bench:avx2:begin -->\navx2 rows\n<!-- bench:avx2:end -->\n\nafter\n")
    with pytest.raises(SystemExit, match="markers"):
        results_table.write_readme_section(*results_table.markers("improved", "avx2"), "rows", readme=readme)


def test_the_readme_expected_column_is_the_graders_band_with_its_runs():
    import results_table

    from mnistlab.grade import bands

    shipped = bands.load()
    b = bands.band(shipped, "ex1", "test_accuracy")
    assert results_table.expected("ex1", shipped) == f"{b['lo']:.4f}-{b['hi']:.4f} (n={b['n']})"
    act = bands.band(shipped, "ex2.activations", "val_accuracy.relu")
    assert results_table.expected("ex2.activations", shipped).endswith(f" each (val, n={act['n']})")
    runs = shipped["runs_by_cpu_kind"]["avx2"]["n_runs"]
    note = results_table.expected_note(shipped)
    assert "99 % prediction interval" in note and f"avx2 ({runs} runs)" in note


def test_bench_notebook_times_each_step_from_the_cells_and_compares_the_three_ways():
    import bench_notebook
    from nbformat import v4

    def cell(block: str, start: str, end: str):
        c = v4.new_code_cell("pass", metadata={"mnistlab": {"block": block}, "execution": {
            "iopub.execute_input": f"2026-12-07T10:00:{start}Z", "shell.execute_reply": f"2026-12-07T10:00:{end}Z"}})
        return c

    nb = v4.new_notebook(cells=[cell("setup", "00.0", "01.0"), cell("ex1.fit", "01.0", "11.0"),
                                cell("ex1.evaluate", "11.0", "12.5"), cell("ex2.cnn.fit", "12.5", "42.5"),
                                v4.new_markdown_cell("text")])
    steps = ["ex1", "ex2.cnn"]
    assert bench_notebook.cell_seconds(nb, steps) == {"other": 1.0, "ex1": 11.5, "ex2.cnn": 30.0}
    assert bench_notebook.fit_cell_seconds(nb, steps) == {"ex1": 10.0, "ex2.cnn": 30.0}
    way = {"wall_seconds": 50.0, "steps": {"ex1": 11.5, "ex2.cnn": 30.0}, "fit": {"ex1": 10.0, "ex2.cnn": 30.0}}
    run = {"wall_seconds": 40.0, "steps": {"ex1": 5.0, "ex2.cnn": 25.0}, "fit": {"ex1": 4.0, "ex2.cnn": 24.0}}
    record = {"steps": steps, "sets": ["epochs=1"], "date": "2026-12-07T10:00:00+00:00",
              "hardware": {"cpu": "AMD EPYC", "cpu_kind": "avx2", "cpu_flags": ["avx2", "fma"], "logical_cores": 2},
              "rounds": [{"notebook": way, "plain": way, "run": run}] * 3}
    text = bench_notebook.table(record)
    assert "| ex2.cnn | avx2 | 30.0 (30.0-30.0) | 30.0 (30.0-30.0) | 25.0 (25.0-25.0) | 1.20x | 1.20x | 1.00x |" in text
    assert "| **all steps** | avx2 |" in text and "| ex1 (training cell) | avx2 |" in text and "3 alternating" in text


def _lab_code_result(path, seed, ann, leaky, kind="avx2"):
    """A result file of benchmarks/lab_literal.py, written by hand as the script writes it."""
    path.write_text(json.dumps({
        "format": 2, "seed": seed, "versions": {"tensorflow": "2.21.0", "keras": "3.15.1"},
        "hardware": {"cpu": "AMD EPYC", "cpu_kind": kind},
        "experiments": {"ex2.ann": {"seconds": 20.5, "test_accuracy": ann, "test_loss": 0.35,
                                    "final_val_accuracy": ann + 0.008},
                        "ex2.activations": {"seconds": 40.0, "test_accuracy": leaky,
                                            "val_accuracy": {"sigmoid": 0.866, "tanh": 0.874, "relu": leaky - 0.001,
                                                             "LeakyReLU": leaky}}}}), encoding="utf-8")
    return path


def test_runs_of_the_labs_own_cells_form_their_own_group_of_the_bands(tmp_path):
    import lab_literal

    from mnistlab.grade import bands

    anns, leakies = [0.8663, 0.8756, 0.8778, 0.8731], [0.8737, 0.8730, 0.8737, 0.8752]
    results = [lab_literal.read(_lab_code_result(tmp_path / f"r{s}.json", s, a, lk))
               for s, a, lk in zip((42, 43, 44, 1), anns, leakies, strict=True)]
    built = bands.build([], lab_code=results)
    assert list(built["runs_by_cpu_kind"]) == ["avx2/lab-code"] and built["hardware"]["cpu_kinds"] == ["avx2"]
    assert built["runs_by_cpu_kind"]["avx2/lab-code"]["seeds"] == [1, 42, 43, 44]
    ann = bands.band(built, "ex2.ann", "test_accuracy")
    assert ann["n"] == 4 and math.isclose(ann["mean"], sum(anns) / 4)
    # the lab spells LeakyReLU; the runs and the grader say leaky_relu
    assert bands.band(built, "ex2.activations", "val_accuracy.leaky_relu")["n"] == 4
    ranks = [1 + (0.874 > lk) for lk in leakies]  # only tanh (0.874) is ever above LeakyReLU in these results
    assert bands.band(built, "ex2.activations", "rank.leaky_relu")["mean"] == sum(ranks) / 4
    assert bands.band(built, "ex2.ann", "final_val_accuracy")["n"] == 4
    # pooled with runs of mnistlab run of the same CPU kind: two groups, one CPU kind
    runs = {"format": 1, "n_runs": 3, "seeds": [1, 2, 3], "hardware": {"cpu_kind": "avx2"}, "versions": {},
            "bands": {"ex2.ann": {"test_accuracy": bands.summarise([0.876, 0.879, 0.872])}}}
    merged = bands.merge(runs, built)
    assert merged["hardware"]["groups"] == ["avx2", "avx2/lab-code"] and merged["hardware"]["cpu_kinds"] == ["avx2"]
    assert bands.band(merged, "ex2.ann", "test_accuracy")["n"] == 7


@pytest.mark.parametrize("content, reason", [
    ('{"seed": "42", "experiments": {}}', "integer 'seed'"),
    ('{"seed": 42, "experiments": {"ex9": {}}}', "lab's steps"),
    ('{"seed": 42, "experiments": {"ex1": {"test_accuracy": NaN}}}', "ex1.test_accuracy is not a finite number"),
    ('{"seed": 42, "experiments": {"ex1": {"test_accuracy": true}}}', "not a finite number"),
    ('{"seed": 42, "experiments": {"ex1": []}}', "ex1 is not a mapping"),
])
def test_a_lab_code_result_that_is_not_one_is_refused_with_its_field(tmp_path, content, reason):
    import lab_literal

    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=reason):
        lab_literal.read(path)


def test_bench_reference_builds_from_lab_code_and_prints_the_groups_compared(tmp_path):
    import subprocess

    files = [_lab_code_result(tmp_path / f"r{s}.json", s, a, lk)
             for s, a, lk in ((1, 0.8663, 0.8737), (2, 0.8756, 0.8730), (3, 0.8778, 0.8737))]
    runs = {"format": 1, "n_runs": 4, "seeds": [1, 2, 3, 4], "hardware": {"cpu_kind": "avx512-bf16"},
            "versions": {}, "bands": {"ex2.ann": {"test_accuracy": {
                "n": 4, "mean": 0.8770, "sd": 0.0030, "min": 0.8731, "max": 0.8801}}}}
    (tmp_path / "runs.json").write_text(json.dumps(runs), encoding="utf-8")
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_reference.py"
    out = tmp_path / "bands.json"
    subprocess.run([sys.executable, str(script), "build", "--lab-code", *map(str, files), "--merge",
                    str(tmp_path / "runs.json"), "--out", str(out), "--record-dir", str(tmp_path)],
                   check=True, capture_output=True, cwd=tmp_path)
    printed = subprocess.run([sys.executable, str(script), "tables", str(out)], check=True, capture_output=True,
                             text=True).stdout
    assert "| ex2.ann | test_accuracy | 7 (3 + 4) |" in printed.replace("avx2/lab-code + avx512-bf16", "")
    row = next(line for line in printed.splitlines() if line.startswith("| ex2.ann | test_accuracy | avx2/lab-code"))
    assert "avx512-bf16: 4, 0.8770 ± 0.0030" in row and "no measurable difference" in row
    assert "leave-one-out, avx2/lab-code against the band of the other groups only: 0 of" in printed
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    refused = subprocess.run([sys.executable, str(script), "build", "--lab-code", str(bad), "--out",
                              str(tmp_path / "x.json"), "--record-dir", str(tmp_path)], capture_output=True, text=True)
    assert refused.returncode != 0 and refused.stderr.strip().count("\n") == 0 and "bad.json" in refused.stderr
    assert not (tmp_path / "x.json").exists()
