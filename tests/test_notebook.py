"""mnistlab notebook: the lab as a notebook, executed for real through nbclient on slices of the real data.

One module-scoped quick notebook (the whole lab, 1 epoch, 300 training and 100 test images) is executed
twice; the other tests build notebooks without executing them, or fail early on purpose.
"""

import gzip
import json
import re
import struct

import nbformat
import pytest

from mnistlab import cli, lab
from mnistlab.errors import MnistlabError
from mnistlab.lab import plan
from mnistlab.notebook import execute, kernel
from mnistlab.notebook import make as make_notebook

QUICK = {"epochs": 1, "train_limit": 300, "test_limit": 100}
IMPORTS_MNISTLAB = re.compile(r"^\s*(import|from)\s+mnistlab", re.M)
# Cells whose lab code prints, plots or shows a summary: they must have outputs.
# Answers whose numbers follow from an array the notebook computed without printing it whole.
FROM_ARRAYS = {"ex1.4.2": "mean top probability of `predictions`",
               "ex1.9.2": "mean top probability of `predictions` on the errors and on the right answers"}
SILENT = {"setup", "ex1.load", "ex1.compile", "ex1.keep", "ex2.load", "ex2.preprocess", "ex2.augment.before"}


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _text(cell) -> str:
    out = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            out.append(o.text)
        elif "text/plain" in o.get("data", {}):
            out.append(o.data["text/plain"])
    return re.sub(r"\x1b\[[0-9;]*m", "", "".join(out))


def _answer(nb, key: str) -> str:
    return next(c.source for c in nb.cells if c.metadata.get("mnistlab", {}).get("answer") == key)


def _block(nb, name: str):
    return next(c for c in _code(nb) if c.metadata["mnistlab"]["block"] == name)


@pytest.fixture(scope="module")
def executed(tmp_path_factory, shared_datasets):
    """The quick notebook executed twice, in two folders."""
    base = tmp_path_factory.mktemp("notebook")
    out = []
    for i in (1, 2):
        w = make_notebook(None, QUICK, data_dir=str(shared_datasets), out=base / f"run{i}", author="Lovelace Ada",
                          group="G2")
        assert w.status == "complete", w.error
        out.append(w)
    return out


@pytest.mark.slow
def test_every_cell_ran_in_order_without_error(executed, shared_datasets):
    nb = nbformat.read(executed[0].notebook, as_version=4)
    nbformat.validate(nb)
    cells = _code(nb)
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1))
    for c in cells:
        assert not any(o.output_type == "error" for o in c.outputs), c.metadata["mnistlab"]["block"]
        assert not IMPORTS_MNISTLAB.search(c.source)
        if c.metadata["mnistlab"]["block"] not in SILENT:
            assert c.outputs, c.metadata["mnistlab"]["block"]
    # The code is mnistlab.lab's, filled with the settings given (one source with the report's listing).
    expected = lab.cells({n: QUICK for n in plan.step_names()}, data_dir=str(shared_datasets.resolve()))
    assert [c.source for c in cells] == [c.source for c in expected if c.kind == "code"]
    assert nb.metadata.kernelspec.name == "python3"
    assert "Lovelace Ada" in nb.cells[0].source and "G2" in nb.cells[0].source


@pytest.mark.slow
def test_answers_come_from_the_notebooks_outputs(executed):
    nb = nbformat.read(executed[0].notebook, as_version=4)
    version = re.search(r"TensorFlow version: (\S+)", _text(_block(nb, "ex1.imports"))).group(1)
    assert f"**{version}**" in _answer(nb, "ex1.1.3")
    acc = re.search(r"Test accuracy: (0\.\d{4})", _text(_block(nb, "ex1.evaluate"))).group(1)
    assert f"**{acc.replace('.', ',')}**" in _answer(nb, "ex1.7.1")
    total = re.search(r"Total params: ([\d,]+)", _text(_block(nb, "ex1.model"))).group(1)
    assert total.replace(",", "\u202f") in _answer(nb, "ex1.4.1") or total.replace(",", " ") in _answer(nb, "ex1.4.1")
    shape = re.search(r"x_train shape: (\(\d+, 28, 28\))", _text(_block(nb, "ex1.normalise"))).group(1)
    assert shape in _answer(nb, "ex1.2.2")
    results = _text(_block(nb, "ex2.activations"))
    shown = {k: float(v) for k, v in re.findall(r"'(\w+)': (?:np\.float64\()?([0-9.]+)", results)}
    ranked = re.findall(r"\b(sigmoid|tanh|relu|leaky_relu) (0,\d{4})", _answer(nb, "ex2.4.1"))
    assert len(ranked) >= 4
    for act, value in ranked:
        assert round(shown["LeakyReLU" if act == "leaky_relu" else act], 4) == float(value.replace(",", "."))
    # Every accuracy or loss written with 4 decimals in an answer is a value the outputs show.
    printed = {round(float(x), 4) for c in _code(nb) for x in re.findall(r"\d+\.\d+", _text(c))}
    for c in nb.cells:
        if c.metadata.get("mnistlab", {}).get("answer") in FROM_ARRAYS:
            continue
        if "answer" in c.metadata.get("mnistlab", {}):
            # "± 0,0197" (two standard errors) and "+0,0151" (a difference) are derived, not printed values
            for x in re.findall(r"(?<![\d,])(0,\d{4})(?![\d])", re.sub(r"(± |[+−])0,\d{4}", "", c.source)):
                assert float(x.replace(",", ".")) in printed, (c.metadata["mnistlab"]["answer"], x)
    # "What if" questions without a measurement get the course's reasoning, never a blank to fill.
    for c in nb.cells:
        if "answer" in c.metadata.get("mnistlab", {}):
            assert "Votre réponse" not in c.source and "…" not in c.source and "Non mesuré" not in c.source
    assert "pas essayé" in _answer(nb, "ex1.6.3") and "époques" in _answer(nb, "ex1.6.3")
    assert "Analyse personnelle" in nb.cells[-1].source and "0," in nb.cells[-1].source
    assert "Pour améliorer, nous viserions d'abord" in nb.cells[-1].source
    # the data were checked against the published digests from what the kernel loaded, and it says so
    assert "elles sont identiques" in _answer(nb, "ex1.3.b")
    manifest = json.loads((executed[0].notebook.parent / "run" / "manifest.json").read_text())
    assert manifest["data"]["mnist"]["verified"] is True and manifest["data"]["fashion_mnist"]["differing"] == []


@pytest.mark.slow
def test_the_report_states_the_notebooks_verdicts(executed):
    """The report written from the run folder the notebook captured holds the same answers and analysis."""
    from mnistlab import report
    from mnistlab.notebook import answers

    nb = nbformat.read(executed[0].notebook, as_version=4)
    run_dir = executed[0].notebook.parent / "run"
    assert executed[0].report == run_dir / "report.html" and executed[0].report.is_file()
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    got = answers.answers(run_dir, "fr")
    for key in ("ex1.8.1", "ex1.8.4", "ex2.4.1", "ex2.6.1", "ex2.7.1"):
        assert _answer(nb, key) == "**Réponse** : " + got[key], key
    for verdict in re.findall(r"(?:pas de )?surapprentissage mesurable[^.;:]*", _answer(nb, "ex1.8.4")):
        assert verdict in md
    analysis = report.analysis(run_dir, "fr")
    assert analysis in nb.cells[-1].source
    # the numbers come from the notebook's own execution: neither the overview nor the code says "fast path"
    assert "chemin d'exécution rapide" not in md and "chemin rapide" not in md


@pytest.mark.slow
def test_the_hand_in_runs_elsewhere_unchanged(executed, shared_datasets, tmp_path, monkeypatch):
    """No path of the machine in the .ipynb; a fresh kernel in another folder runs it as it is."""
    from nbclient import NotebookClient

    text = executed[0].notebook.read_text(encoding="utf-8")
    for path in (str(shared_datasets), str(shared_datasets.resolve()), str(executed[0].notebook.parent), "/tmp/",
                 "/work/", "/root/", "/home/"):
        assert path not in text, path
    nb = nbformat.read(executed[0].notebook, as_version=4)
    assert "mnist.load_data()" in _block(nb, "ex1.load").source
    assert "fashion_mnist.load_data()" in _block(nb, "ex2.load").source
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    fresh = nbformat.read(executed[0].notebook, as_version=4)
    with kernel.manager(str(shared_datasets)) as km:  # offline: the start-up loader serves the folder
        NotebookClient(fresh, km=km, timeout=600, allow_errors=False,
                       resources={"metadata": {"path": str(elsewhere)}}).execute()
    assert all(not any(o.output_type == "error" for o in c.outputs) for c in _code(fresh))


@pytest.mark.slow
def test_a_doctored_label_is_said(tmp_path, shared_datasets):
    data = tmp_path / "data" / "mnist"
    data.mkdir(parents=True)
    for f in (shared_datasets / "mnist").iterdir():
        raw = gzip.decompress(f.read_bytes())
        if f.name.startswith("train-labels"):
            raw = raw[:8] + bytes([7]) + raw[9:]  # the first training label: 5 -> 7
        (data / f.name).write_bytes(gzip.compress(raw))
    w = make_notebook(["ex1"], QUICK, data_dir=str(tmp_path / "data"), out=tmp_path / "nb")
    assert w.status == "complete", w.error
    nb = nbformat.read(w.notebook, as_version=4)
    check = _answer(nb, "ex1.3.b")
    assert "diffère de celle du jeu publié" in check and "`y_train`" in check and "identiques" not in check
    manifest = json.loads((tmp_path / "nb" / "run" / "manifest.json").read_text())
    assert manifest["data"]["mnist"]["verified"] is False and manifest["data"]["mnist"]["differing"] == ["y_train"]


@pytest.mark.slow
def test_a_second_execution_gives_the_same_numbers(executed):
    a, b = (nbformat.read(w.notebook, as_version=4) for w in executed)

    def numbers(nb):  # every number each cell shows, less times (per step, per epoch) and object addresses
        text = [re.sub(r"0x[0-9a-f]+|\d+(\.\d+)?\s?(us|ms|s)(/step)?\b", "", _text(c)) for c in _code(nb)]
        return [re.findall(r"\d+(?:\.\d+)?", t) for t in text]

    assert numbers(a) == numbers(b)
    def answered(nb):  # training times differ between executions; every other number is the same
        return [re.sub(r"\d+(,\d+)?\u202f?(s|min)\b", "", c.source) for c in nb.cells
                if "answer" in c.metadata.get("mnistlab", {})]

    assert answered(a) == answered(b)


@pytest.mark.slow
def test_html_is_self_contained_and_renders_offline(executed, browser):
    page_html = executed[0].html.read_text(encoding="utf-8")
    assert "<script" not in page_html and "https://cdn" not in page_html and "size: A4" in page_html
    page = browser.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(executed[0].html.as_uri())
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth])")
    assert len(images) >= 8 and all(done and width > 0 for done, width in images), images
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert "Travail demandé aux étudiants" in page.inner_text("body")
    page.close()


@pytest.mark.slow
def test_every_number_an_answer_quotes_is_printed_by_a_cell_above_it(executed):
    """Read as an instructor checks it: each measured value of an answer is in an output above the answer."""
    from mnistlab.notebook import quoted

    nb = nbformat.read(executed[0].notebook, as_version=4)
    printed: set[tuple[int, int]] = set()
    integers: set[int] = set()
    checked = 0
    for c in nb.cells:
        if c.cell_type == "code":
            text = _text(c)
            for m in re.finditer(r"(?<![\d.])\d+\.(\d+)", text):
                printed.update((round(float(m.group(0)) * 10**k), k) for k in range(1, 9))
            integers.update(int(x) for x in re.findall(r"(?<![\d.,])\d+(?![\d.]|,\d)", text))
            continue
        meta = c.metadata.get("mnistlab", {})
        if "answer" not in meta:
            continue
        for written, value, decimals in quoted.quoted(c.source):  # decimals, error counts, McNemar's counts
            checked += 1
            if decimals == 0:
                assert int(value) in integers, (meta["answer"], written)
            else:
                assert (round(value * 10**decimals), decimals) in printed, (meta["answer"], written)
    assert checked > 25
    # the values that used to live only in prose are printed: dtype before normalisation, the data check,
    # the softmax sums, the confusion pairs, the versions
    check = _text(_block(nb, "ex1.check"))
    assert "uint8 0..255" in check and check.count("identique au jeu publié") == 4
    assert _text(_block(nb, "ex2.check")).count("identique au jeu publié") == 4
    assert "Somme des probabilités" in _text(_block(nb, "ex1.softmax"))
    paired = _text(_block(nb, "ex2.augment.paired"))
    assert "Images discordantes" in paired and "McNemar exact : p = " in paired and "erreur-type appariée" in paired
    pairs = _text(_block(nb, "ex2.confusion.pairs"))
    assert "→" in pairs and "Rappel par classe" in pairs
    assert "Keras" in _text(_block(nb, "ex1.versions")) and "NumPy" in _text(_block(nb, "ex1.versions"))
    # an answer never comes before the cell that computes what it is about: step 3's test accuracy
    keys = [c.metadata["mnistlab"].get("block") or c.metadata["mnistlab"].get("answer") for c in nb.cells
            if "block" in c.metadata.get("mnistlab", {}) or "answer" in c.metadata.get("mnistlab", {})]
    assert keys.index("ex2.ann.evaluate") < keys.index("ex2.3.1")


@pytest.mark.slow
def test_no_two_answers_alike_and_a_short_analysis(executed):
    nb = nbformat.read(executed[0].notebook, as_version=4)
    answers = {c.metadata["mnistlab"]["answer"]: c.source for c in nb.cells
               if "answer" in c.metadata.get("mnistlab", {})}
    firsts: dict[str, str] = {}
    for key, text in answers.items():
        first = text.split("\n\n")[0]
        assert first not in firsts.values(), (key, [k for k, v in firsts.items() if v == first])
        firsts[key] = first
    assert len(set(answers.values())) == len(answers)
    analysis = nb.cells[-1].source.split("\n", 1)[1].strip()
    sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-ZÀ-Ý])", analysis) if s]
    assert 5 <= len(sentences) <= 10, sentences
    assert "Ce qui nous a surpris" in analysis or "surapprentissage" in analysis
    # one word for each measure: accuracy is "précision" as in the lab; the per-class precision has its own name
    md = (executed[0].notebook.parent / "run" / "report.md").read_text(encoding="utf-8")
    assert "valeur prédictive" in md and "précision de calcul" not in md


@pytest.mark.slow
def test_the_companion_report_is_complete(executed):
    """What a student hands in beside the notebook: the notebook's own sample figures, the execution's date,
    times, command and machine, and no placeholder anywhere."""
    run = executed[0].notebook.parent / "run"
    page = (run / "report.html").read_text(encoding="utf-8")
    assert 'class="missing' not in page and 'class="warn' not in page
    assert not re.search(r"<td[^>]*>\s*(—|\?)\s*</td>", page)
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S))
    assert not re.search(r"(le|de|: |, )\s*\?\s*[,.;]|\s—\s*[,.;]", text), re.findall(r".{30}\s[?—]\s*[,.;].{10}", text)
    for step in ("ex1", "ex2.ann"):
        assert (run / step / "figures" / "samples.png").is_file(), step
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["command"][0] == "notebook" and manifest["hardware"]["logical_cores"] >= 1
    assert manifest["started"] <= manifest["finished"] and manifest["seconds"] > 0
    assert "Lovelace Ada" in page and manifest["finished"][:10].split("-")[0] in page
    # the printed notebook: no padded progress lines, figures large enough for their text
    html_text = executed[0].html.read_text(encoding="utf-8")
    assert not re.search(r"val_loss: \d\.\d{4} {3,}", html_text) and "max-height: 150mm" in html_text
    curves = _block(nbformat.read(executed[0].notebook, as_version=4), "travail.curves")
    assert sum("image/png" in o.get("data", {}) for o in curves.outputs) == 4  # one readable figure per step


def test_an_answer_keeps_only_what_the_cells_above_have_printed():
    from mnistlab.notebook import quoted

    shown = quoted.Shown()
    shown.add("Test accuracy: 0.8649\nErreurs : 66 sur 10000 images de test")
    answer = ("Le cours dit ceci.\n\nNous mesurons 0,8649, soit 66 erreurs.\n\n"
              "Après l'étape 4 : 0,9123.\n\nÉcart : +1,67 point.\n\nSans chiffre mesuré.")
    assert quoted.keep_shown(answer, shown) == ("Le cours dit ceci.\n\nNous mesurons 0,8649, soit 66 erreurs.\n\n"
                                               "Sans chiffre mesuré.")
    assert [v for _, v, _ in quoted.quoted("± 0,0220 ; +0,78 point ; −0,0211 ; 1,6049 et 12 erreurs")] == [1.6049, 12]
    mcnemar = "McNemar exact : 343 contre 265 images discordantes sur 10\u202f000, z = 3,16, p = 0,002"
    assert [v for _, v, _ in quoted.quoted(mcnemar)] == [343, 265, 10000]
    assert [v for _, v, _ in quoted.quoted("perte finale d'entraînement 1\u202f567,1675.")] == [1567.1675]
    shown.add("Images discordantes : 343 justes seulement après, 265 justes seulement avant, sur 10000")
    assert quoted.keep_shown(mcnemar, shown) == mcnemar
    assert quoted.keep_shown("Après : 344 contre 265 images discordantes.", shown) == ""
    shown.add("images justes pour lui seul : 1, pour `model` seul : 54, sur 100")
    assert quoted.keep_shown("McNemar exact : 1 contre 54 images discordantes sur 100", shown).startswith("McNemar")


# --- without executing ------------------------------------------------------------------------------------


def test_no_execute_writes_a_valid_notebook_with_fields_to_fill(tmp_path):
    w = make_notebook(["ex1"], {"epochs": 2}, out=tmp_path / "nb", execute=False, author="<img src=x onerror=alert(1)>")
    assert w.status == "not executed" and w.html.is_file()
    nb = nbformat.read(w.notebook, as_version=4)
    nbformat.validate(nb)
    assert "<img" not in nb.cells[0].source and "&lt;img" in nb.cells[0].source
    assert "**Groupe** : …" in nb.cells[0].source
    questions = [i for i, c in enumerate(nb.cells) if "question" in c.metadata.get("mnistlab", {})]
    assert questions and all("answer" in nb.cells[i + 1].metadata["mnistlab"] for i in questions)
    assert all(not c.get("outputs") for c in _code(nb)) and "epochs=2," in _block(nb, "ex1.fit").source
    assert not any("fashion_mnist" in c.source for c in _code(nb))
    assert "<script" not in w.html.read_text(encoding="utf-8")
    with pytest.raises(MnistlabError, match="already holds"):
        make_notebook(["ex1"], out=tmp_path / "nb", execute=False)


def test_bad_input_is_one_line(tmp_path, capsys):
    assert cli.main(["notebook", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 1
    assert cli.main(["notebook", "ext.ex1_sgd", "--no-execute", "--out", str(tmp_path / "o")]) == 1
    crafted = "epochs=\"1)\\nimport os\""
    assert cli.main(["notebook", "--set", crafted, "--no-execute", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("mnistlab: error: ") for line in err), err
    assert not (tmp_path / "o").exists()
    with pytest.raises(MnistlabError, match="pip install no_such_module_xyz"):
        kernel.require(("no_such_module_xyz",))


def test_the_cut_note_follows_the_last_cell_done():
    from nbformat import v4

    nb = v4.new_notebook(cells=[v4.new_code_cell("a", execution_count=1), v4.new_code_cell("b"),
                                v4.new_code_cell("c")])
    cut = execute.cut(nb, execute.Outcome("interrupted", cell=1))
    assert [c.cell_type for c in cut.cells] == ["code", "code", "markdown", "code"]
    assert "interrompue" in cut.cells[2].source and len(nb.cells) == 3
    assert execute.cut(nb, execute.Outcome("complete")) is nb


@pytest.mark.slow
def test_a_failing_cell_gives_one_line_and_keeps_the_partial_notebook(tmp_path, capsys):
    data = tmp_path / "data" / "mnist"
    data.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):  # headers that promise 60,000 images and hold none
        (data / f"{name}.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">III", 60000, 28, 28)))
    out = tmp_path / "nb"
    assert cli.main(["notebook", "ex1", "--data", str(tmp_path / "data"), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("mnistlab: error: cell 4 (ex1.load) failed: DataError"), err
    nb = nbformat.read(out / "TP2.ipynb", as_version=4)
    nbformat.validate(nb)
    failed = next(i for i, c in enumerate(nb.cells) if c.get("outputs") and c.outputs[0].output_type == "error")
    assert nb.cells[failed].metadata["mnistlab"]["block"] == "ex1.load"
    assert "a échoué" in nb.cells[failed + 1].source and "DataError" in nb.cells[failed + 1].source
    assert (out / "TP2.html").is_file()
    assert json.loads((out / "TP2.ipynb").read_text())["nbformat"] == 4


def test_captured_values_become_a_run_folder_the_report_reads(tmp_path):
    """What the kernel dumps (hand-made here) is answered by the report's measurement functions."""
    import numpy as np

    from mnistlab import config
    from mnistlab.notebook import answers, capture

    cap = tmp_path / "capture"

    def dump(name, **values):
        (cap / name).mkdir(parents=True)
        for k, v in list(values.items()):
            if isinstance(v, np.ndarray):
                np.save(cap / name / f"{k}.npy", values.pop(k))
        (cap / name / "values.json").write_text(json.dumps(values))

    dump("versions", tensorflow="9.9.9", keras="3.99.0", numpy="2.0", python="3.11.7", backend="tensorflow")
    facts = {k: {"shape": [300, 28, 28] if k.startswith("x") else [300], "dtype": "uint8", "min": 0, "max": 255}
             for k in ("x_train", "y_train", "x_test", "y_test")}
    dump("data.mnist", facts=facts, first_train_labels=[5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 3, 5, 3, 6, 1, 7])
    layers = [{"name": "flatten", "type": "Flatten", "output_shape": [784], "params": 0},
              {"name": "dense", "type": "Dense", "output_shape": [128], "params": 100480},
              {"name": "dense_1", "type": "Dense", "output_shape": [10], "params": 1290}]
    history = {"accuracy": [0.80, 0.9], "loss": [0.6, 0.3], "val_accuracy": [0.85, 0.875], "val_loss": [0.5, 0.4]}
    dump("ex1", params=101770, layers=layers, history=history, test_loss=0.4321, test_accuracy=0.875,
         n_train=300, n_test=8)
    probs = np.eye(10, dtype=np.float32)[[7, 2, 1, 0, 4, 1, 4, 8]]
    dump("ex1.predictions", probabilities=probs, y_test=np.array([7, 2, 1, 0, 4, 1, 4, 9]))
    exps = {"ex1": config.load("ex1", {"epochs": 2})}
    run = capture.write_run(cap, tmp_path / "run", exps, {"ex1": 1.5})
    got = answers.answers(run, "fr")
    assert "**0,8750**" in got["ex1.7.1"] and "1 erreur" in got["ex1.7.1"]
    assert "101" in got["ex1.4.1"] and "770" in got["ex1.4.1"]
    assert "**9.9.9**" in got["ex1.1.3"]
    assert (run / "ex1" / "history.csv").read_text().startswith("epoch,loss,accuracy,val_loss,val_accuracy")


def test_author_is_plain_text_in_the_title_cell_and_the_last_line_is_escaped(tmp_path, capsys):
    from mnistlab.notebook.build import _escape

    assert _escape("Dupont $x^2$") == r"Dupont \$x^2\$"
    out = tmp_path / "nb\nmnistlab: forged \x1b[31mred"
    assert cli.main(["notebook", "ex1", "--no-execute", "--set", "epochs=1", "--author", "Dupont $x^2$",
                     "--out", str(out)]) == 0
    nb = nbformat.read(next(out.glob("*.ipynb")), as_version=4)
    assert r"Dupont \$x^2\$" in nb.cells[0].source
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "\x1b" not in err and "\\n" in err and "\\x1b" in err, err
    assert err.splitlines()[-1].startswith("mnistlab: no --group given"), err  # one closing line says what is blank


@pytest.mark.slow
def test_written_answers_are_recorded_and_graded_as_the_tools(executed, tmp_path):
    """The metadata names every answer cell the tool wrote; the grader says so and does not call it copying."""
    from mnistlab.grade import Options, grade

    nb = nbformat.read(executed[0].notebook, as_version=4)
    written = nb.metadata["mnistlab"]["generated_answers"]
    answer_ids = {c.id for c in nb.cells if "answer" in c.metadata.get("mnistlab", {})
                  and "à rédiger" not in c.source}
    assert written and set(written) <= answer_ids | {c.id for c in nb.cells}
    assert nb.metadata["mnistlab"]["version"]
    assert set(nb.metadata["mnistlab"]["generated_code"]) == {c.id for c in nb.cells if c.cell_type == "code"}
    subs = tmp_path / "subs"
    subs.mkdir()
    for i, w in enumerate(executed):  # two executions of the same seed: equal numbers, equal words
        (subs / f"student{i}.ipynb").write_bytes(w.notebook.read_bytes())
    entries = grade(subs, tmp_path / "out", Options())
    for e in entries:
        flags = [f for f, _ in e["flags_evidence"]]
        assert e["status"] == "OK" and "generated-answers" in flags
        assert not any(f.startswith("similar:") for f in flags)
        assert e["total"] > 0


@pytest.mark.slow
def test_extended_tries_the_cheap_what_ifs_and_answers_from_them(tmp_path, shared_datasets):
    """`--extended`: another loss and another optimizer are trained in a visible cell after the evaluation;
    the answers to questions 5.3 and 5.4 follow that cell, from its printed numbers."""
    w = make_notebook(["ex1"], {"epochs": 1, "train_limit": 300, "test_limit": 100}, data_dir=str(shared_datasets),
                      out=tmp_path / "nb", extended=True)
    assert w.status == "complete", w.error
    nb = nbformat.read(w.notebook, as_version=4)
    printed = _text(_block(nb, "ex1.whatif"))
    for what in ("avec SGD", "avec l'erreur quadratique", "avec categorical_crossentropy"):
        assert what in printed, printed
    at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("mnistlab", {}).get("block") == "ex1.whatif")
    later = nb.cells[at + 1]
    assert later.metadata["mnistlab"]["later"] == ["ex1.5.3", "ex1.5.4"]
    assert "question 3 de la section 5" in later.source and "question 4 de la section 5" in later.source
    assert "pas essayé" not in later.source and "0," in later.source
    manifest = json.loads((tmp_path / "nb" / "run" / "manifest.json").read_text())
    assert {"ext.ex1_sgd", "ext.ex1_mse_loss"} <= set(manifest["experiments"])
    plain = make_notebook(["ex1"], QUICK, out=tmp_path / "plain", execute=False)
    assert not any(c.metadata.get("mnistlab", {}).get("block") == "ex1.whatif"
                   for c in nbformat.read(plain.notebook, as_version=4).cells)


@pytest.mark.slow
def test_every_figure_prints_its_text_at_7_pt_or_more(executed):
    """Matplotlib writes 10 pt text at the inline backend's 100 dpi (13.9 px); the page shows a PNG at one CSS
    px per pixel (0.75 pt), shrunk to the A4 width (188 mm) and to the print height limit (150 mm)."""
    import base64
    import struct

    html_text = executed[0].html.read_text(encoding="utf-8")
    limit_mm = float(re.search(r"img \{ break-inside: avoid; max-height: (\d+)mm", html_text).group(1))
    nb = nbformat.read(executed[0].notebook, as_version=4)
    sizes = []
    for c in _code(nb):
        for o in c.outputs:
            if "image/png" in o.get("data", {}):
                png = base64.b64decode(o.data["image/png"])
                w, h = struct.unpack(">II", png[16:24])
                scale = min(1.0, 188 / (w * 25.4 / 96), limit_mm / (h * 25.4 / 96))
                sizes.append((c.metadata["mnistlab"]["block"], round(10 * 100 / 72 * 0.75 * scale, 1)))
    assert len(sizes) >= 10 and all(pt >= 7 for _, pt in sizes), sizes


def test_a_duration_in_an_output_never_counts_as_a_shown_count():
    """Keras' progress lines print times ("2s 20ms/step"): they change from one execution to the next, so an
    answer quoting McNemar's counts must not be kept or dropped by a coincidence of timings."""
    from mnistlab.notebook import quoted

    shown = quoted.Shown()
    shown.add("469/469 ━━━━━━━━━━ 2s 20ms/step - accuracy: 0.9100\nEpoch 10/10\n54, sur 100 ; 12 s\n")
    assert shown.integers == {469, 10, 54, 100}
    answer = "Texte du cours.\n\nMcNemar exact : 10 contre 20 images discordantes sur 100."
    assert quoted.keep_shown(answer, shown) == "Texte du cours."
    shown.add("20 contre 10\n")
    assert quoted.keep_shown(answer, shown) == answer
