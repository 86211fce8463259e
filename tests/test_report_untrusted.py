"""A run folder is untrusted input: doctored copies of tests/report_run give a report that says what is
unavailable and why, never a traceback, and nothing outside the run folder is read, written or deleted.
Also the hand-in body (no paths, run ids, CLI hints, "Source" lines), the English files beside the French,
and the rendering of inline markup. Milliseconds to a few seconds each (matplotlib draws the figures).
"""

import base64
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from mnistlab import cli
from mnistlab.errors import MnistlabError
from mnistlab.report import build, render

RUN = Path(__file__).parent / "report_run"


@pytest.fixture
def run_dir(tmp_path):
    return Path(shutil.copytree(RUN, tmp_path / "run"))


def _body(html: str) -> str:
    """The hand-in body: the page before its appendix, without provenance notes."""
    body = html.split('id="appendix"')[0]
    return re.sub(r'<p class="prov">.*?</p>', "", body, flags=re.S)


def _doctor(path: Path, change) -> None:
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


# --- doctored run folders, each a report with "unavailable" and its reason ----------------------------------


CASES = {
    "metrics_is_a_list": ("ex1/metrics.json", lambda m: [m], "not a JSON object"),
    "config_is_a_list": ("ex2.cnn/config.json", lambda c: [c], "not a JSON object"),
    "seconds_nan": ("ex1/metrics.json", lambda m: {**m, "seconds": float("nan")}, "NaN"),
    "seconds_infinity": ("ex2.ann/metrics.json", lambda m: {**m, "fit_seconds": float("inf")}, "Infinity"),
    "dataset_cifar10": ("ex2.ann/config.json", lambda c: {**c, "dataset": "cifar10"}, "dataset must be"),
    "hidden_units_longer_than_dropout": ("ex2.ann/config.json", lambda c: {**c, "hidden_units": [128, 64, 32]},
                                         "dropout needs one rate per hidden layer"),
    "step_an_object": ("ex2.cnn/config.json", lambda c: {**c, "step": {"x": 1}}, "step must be a string"),
    "model_a_number": ("ex2.ann/config.json", lambda c: {**c, "model": 3}, "model must be"),
    "batch_size_a_list": ("ex1/config.json", lambda c: {**c, "batch_size": [32]},
                          "batch_size must be an integer"),
    "counts_of_1e30": ("ex2.confusion/metrics.json",
                       lambda m: {**m, "most_confused": [{**m["most_confused"][0], "count": 10**30}]},
                       "'most_confused' holds a value no run writes"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_doctored_file_gives_unavailable_with_its_reason(run_dir, case):
    rel, change, reason = CASES[case]
    path = run_dir / rel
    if case.startswith("seconds"):  # json.dumps writes NaN / Infinity, which no run writes
        text = json.dumps(change(json.loads(path.read_text())))
        path.write_text(text)
    else:
        _doctor(path, change)
    written = build(run_dir, "fr")
    html = written.html.read_text(encoding="utf-8")
    assert reason in html and str(run_dir) not in html


def test_confusion_csv_with_huge_counts_is_refused(run_dir):
    names = ["a"] * 10
    rows = ["true\\predicted," + ",".join(names)] + [f"a,{','.join(['1' + '0' * 30] * 10)}"] * 10
    (run_dir / "ex2.confusion" / "confusion_matrix.csv").write_text("\n".join(rows) + "\n")
    html = build(run_dir, "fr").html.read_text(encoding="utf-8")
    assert "counts that no test set gives" in html


def test_npy_header_claiming_1e11_values_is_unavailable(run_dir):
    path = run_dir / "ex1" / "test_probabilities.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**11, 10)})
    html = build(run_dir, "fr").html.read_text(encoding="utf-8")
    assert "claims 1,000,000,000,000 values" in html


def test_symlinked_report_figures_is_refused_and_its_target_untouched(run_dir, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "precious.png").write_bytes(b"keep me")
    (run_dir / "report_figures").symlink_to(target)
    with pytest.raises(MnistlabError, match="symbolic link"):
        build(run_dir, "fr")
    assert [p.name for p in target.iterdir()] == ["precious.png"]
    assert not (run_dir / "report.html").exists()
    assert cli.main(["report", str(run_dir)]) == 1


def test_symlinked_or_fake_png_figures_are_never_inlined(run_dir, tmp_path):
    secret = tmp_path / "id_rsa"
    secret.write_bytes(b"-----BEGIN OPENSSH PRIVATE KEY----- not for the report")
    (run_dir / "ex1" / "figures").mkdir()
    (run_dir / "ex1" / "figures" / "samples.png").symlink_to(secret)
    (run_dir / "ex2.ann" / "figures").mkdir()
    (run_dir / "ex2.ann" / "figures" / "samples.png").write_bytes(b"<script>alert(1)</script>")
    html = build(run_dir, "fr").html.read_text(encoding="utf-8")
    inlined = [base64.b64decode(d) for d in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]
    assert all(png.startswith(b"\x89PNG") for png in inlined)
    assert b"PRIVATE KEY" not in b"".join(inlined) and "symbolic link" in html and "not a PNG image" in html


def test_symlinked_step_folder_is_not_followed(run_dir, tmp_path):
    outside = tmp_path / "outside"
    shutil.copytree(run_dir / "ex1", outside)
    shutil.rmtree(run_dir / "ex1")
    (run_dir / "ex1").symlink_to(outside)
    html = build(run_dir, "fr").html.read_text(encoding="utf-8")
    assert "symbolic link" in html and "0,9772" not in _body(html)


def test_names_from_folders_and_manifest_are_slugs_and_escaped(run_dir):
    evil = 'x"><img src=x onerror=alert(1)>'
    shutil.copytree(run_dir / "ex2.ann", run_dir / evil)
    _doctor(run_dir / evil / "config.json", lambda c: {**c, "title": "<script>alert(2)</script>\n# injected"})
    _doctor(run_dir / "manifest.json", lambda m: {**m, "overrides": {"<b>k</b>": "[x](javascript:alert(3))"}})
    written = build(run_dir, "fr")
    html, md = written.html.read_text(encoding="utf-8"), written.markdown.read_text(encoding="utf-8")
    assert "<script>" not in html and "<img src=x" not in html and "&lt;img src=x" in html
    assert all(re.fullmatch(r"[a-z0-9-]+", i) for i in re.findall(r' id="([^"]*)"', html))
    prose = re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", md, flags=re.S))  # code is shown as text
    assert "<script>" not in prose and "<img src=x" not in prose and "](javascript:" not in prose
    assert "\n# injected" not in md


# --- the hand-in ----------------------------------------------------------------------------------------------


def test_hand_in_body_has_no_paths_run_ids_cli_hints_or_sources(run_dir):
    html = build(run_dir, "fr", author="Dupont Marie", group="G2").html.read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", " ", _body(html))
    assert str(run_dir) not in html and "/tmp/" not in text and run_dir.name not in text
    assert "mnistlab run" not in text and "Source" not in text and ".json" not in text
    assert not re.search(r"\b(ce|du|le|un) run\b", text)
    assert "Dupont Marie" in html and "G2" in html and 'id="appendix"' in html


def test_title_block_fields_are_left_to_fill_without_author(run_dir):
    md = build(run_dir, "fr").markdown.read_text(encoding="utf-8")
    assert "| Nom, prénom |   |" in md and "| Groupe |   |" in md


def test_english_files_go_beside_the_french_ones(run_dir):
    fr = build(run_dir, "fr")
    before = fr.html.read_bytes(), fr.markdown.read_bytes()
    en = build(run_dir, "en")
    assert en.html.name == "report.en.html" and en.markdown.name == "report.en.md"
    assert (fr.html.read_bytes(), fr.markdown.read_bytes()) == before
    assert "report_figures.en/" in en.markdown.read_text(encoding="utf-8")
    assert len(list((run_dir / "report_figures").glob("*.png"))) == len(list((run_dir / "report_figures.en").glob(
        "*.png")))


def test_contents_link_every_lab_section(run_dir):
    html = build(run_dir, "fr").html.read_text(encoding="utf-8")
    toc = html.split('<nav class="toc"')[1].split("</nav>")[0]
    for sid in [f"ex1-{i}" for i in range(1, 10)] + [f"ex2-{i}" for i in range(1, 8)]:
        assert f'href="#sec-{sid}"' in toc and f'id="sec-{sid}"' in html


def test_analysis_is_prose_in_the_first_person_plural(run_dir):
    html = build(run_dir, "fr").html.read_text(encoding="utf-8")
    para = re.search(r'<p class="analysis">(.*?)</p>', html, re.S).group(1)
    sentences = [s for s in re.split(r"(?<=[.])\s+(?=[A-ZÉ])", re.sub(r"<[^>]+>", "", para)) if s]
    assert 5 <= len(sentences) <= 10 and "nous" in para.lower()
    assert "une époque du CNN nous a pris" in para and "Chemise" in para


# --- rendering ------------------------------------------------------------------------------------------------


def test_bold_holding_inline_code_renders_without_literal_stars():
    out = render.inline_html("**`validation_split` ne mélange pas.** Keras prend <les> *derniers*")
    assert out == ("<strong><code>validation_split</code> ne mélange pas.</strong> Keras prend &lt;les&gt; "
                   "<em>derniers</em>") and "**" not in out


def test_markdown_escapes_html_and_foreign_links():
    out = render.inline_md('<img src=x onerror=a()> [t](#ok) [u](javascript:x) `<code>`')
    assert out == "&lt;img src=x onerror=a()&gt; [t](#ok) \\[u]\\(javascript:x) `<code>`"


def test_french_figures_use_the_decimal_comma_and_bars_start_at_zero():
    from mnistlab.report import figures

    fig = figures.plots.bars({"relu": 0.878, "tanh": 0.8781}, "t", "y", None, "fr")
    assert fig.axes[0].get_ylim()[0] == 0
    figures._decimal_comma(fig)
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()] + [t.get_text() for t in fig.axes[0].texts]
    assert any("," in s for s in labels) and not any(re.search(r"\d\.\d", s) for s in labels)
    figures.plots.plt.close(fig)


# --- in a real browser: phone width and A4 paper --------------------------------------------------------------


def test_hand_made_report_on_a_phone_and_on_a4(run_dir, browser):
    page_file = build(run_dir, "fr").html
    page = browser.new_page(viewport={"width": 390, "height": 800})
    page.goto(page_file.as_uri())
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # wide tables scroll inside their box
    widths = page.evaluate("Array.from(document.querySelectorAll('.scroll')).map(d => d.clientWidth)")
    assert widths and max(widths) <= 390
    assert page.evaluate("document.querySelectorAll('strong code').length") > 0  # bold holding code, no **
    assert "**" not in page.inner_text("main")
    page.emulate_media(media="print")
    assert page.is_visible("nav.toc")  # the contents are printed
    pdf = page.pdf(prefer_css_page_size=True)
    boxes = set(re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf))
    assert boxes and all(abs(float(w) - 595.9) < 2 and abs(float(h) - 842.9) < 2 for w, h in boxes), boxes  # A4
    page.close()


def test_the_lab_code_is_one_complete_program_in_the_labs_order(run_dir):
    md = build(run_dir, "fr").markdown.read_text(encoding="utf-8")
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert 'id="code-complete"' in html and html.count("(#code-complete)") == 0  # links are rendered
    assert html.count('href="#code-complete"') >= 6  # the checklist and every lab step's section
    listings = re.findall(r"```python\n(.*?)```", md, flags=re.S)
    complete = [src for src in listings if "ImageDataGenerator(" in src]
    assert len(complete) == 1, "one listing holds the whole lab"
    src = complete[0]
    compile(src, "tp2.py", "exec")  # valid Python on its own
    assert "import mnistlab" not in src and "run" + "s/" not in src and "model.keras" not in src
    order = [src.index(s) for s in ("mnist.load_data()", "fashion_mnist.load_data()", "for act in activations",
                                    "Conv2D(", "ConfusionMatrixDisplay", "datagen.flow(")]
    assert order == sorted(order)
    assert src.count("plt.show()") >= 8 and 'print("TensorFlow version:"' in src
    # the run took the fast path: the listing's heading says so, the code itself is the lab's, no comment added
    assert "autre exécution" in md.split("```python\n" + src, 1)[0].rsplit("\n#", 1)[-1]
    assert src.startswith("import tensorflow as tf")
