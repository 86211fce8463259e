"""mnistlab.data.sources: every layout and place gives the published arrays; broken data says why."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mnistlab.data import idx, sources
from mnistlab.data.sources import CLASS_NAMES, DATASET_NAMES, Dataset, find_dataset_dir, load
from mnistlab.errors import DataError

FIELDS = ("x_train", "y_train", "x_test", "y_test")
STEMS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
FOLDERS = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}


# --- reference data, decoded independently of the code under test ------------------------


def idx_bytes(a: np.ndarray) -> bytes:
    magic = 0x801 if a.ndim == 1 else 0x803
    return struct.pack(f">I{a.ndim}I", magic, *a.shape) + a.tobytes()


def csv_bytes(x: np.ndarray, y: np.ndarray) -> bytes:
    """Kaggle's CSV layout, built with table look-ups (np.savetxt takes ~20 s for 60,000 rows)."""
    table = np.zeros((256, 4), np.uint8)  # "v," left-aligned, NUL padded
    for v in range(256):
        s = f"{v},".encode()
        table[v, : len(s)] = list(s)
    rows = np.concatenate([y[:, None], x.reshape(len(x), -1)], axis=1)
    chars = table[rows]
    ends = (table != 0).sum(1)[rows[:, -1]] - 1  # the last value's comma becomes a newline
    chars[np.arange(len(rows)), -1, ends] = ord("\n")
    flat = chars.reshape(-1)
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 785)) + "\n"
    return header.encode() + flat[flat != 0].tobytes()


@pytest.fixture(scope="session")
def reference(shared_datasets):
    """name -> field -> the published array, read with gzip and np.frombuffer alone."""
    ref = {}
    for name, folder in FOLDERS.items():
        ref[name] = {}
        for f, stem in STEMS.items():
            raw = gzip.decompress((shared_datasets / folder / f"{stem}.gz").read_bytes())
            header = 16 if f.startswith("x") else 8
            a = np.frombuffer(raw, np.uint8, offset=header)
            ref[name][f] = a.reshape(-1, 28, 28) if f.startswith("x") else a
    return ref


@pytest.fixture(scope="session")
def files(tmp_path_factory, reference):
    """A session folder of decompressed IDX files and Fashion CSVs that tests link to (read-only)."""
    root = tmp_path_factory.mktemp("reference_files")
    for name in DATASET_NAMES:
        (root / name).mkdir()
        for f, stem in STEMS.items():
            (root / name / stem).write_bytes(idx_bytes(reference[name][f]))
    fm = reference["fashion_mnist"]
    for part in ("train", "test"):
        (root / f"fashion-mnist_{part}.csv").write_bytes(csv_bytes(fm[f"x_{part}"], fm[f"y_{part}"]))
    for p in root.rglob("*"):
        if p.is_file():
            p.chmod(0o444)
    return root


def link(dst: Path, src: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.symlink_to(src)


def put(path: Path, data: bytes) -> None:
    """Write a real file (never through a symlink to the session's reference files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.write_bytes(data)


def build(folder: Path, name: str, layout: str, shared: Path, files: Path, reference) -> Path:
    """Lay out data set ``name`` in ``folder`` as ``layout``; return ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for f, stem in STEMS.items():
        dotted = stem.replace("-idx", ".idx")
        if layout == "idx-gz":
            link(folder / f"{stem}.gz", shared / FOLDERS[name] / f"{stem}.gz")
        elif layout == "idx":
            link(folder / stem, files / name / stem)
        elif layout == "kaggle-dotted":
            link(folder / dotted, files / name / stem)
        elif layout == "kaggle-nested":
            link(folder / stem / stem, files / name / stem)
        elif layout == "kaggle-both":  # as downloaded from Kaggle: both forms of each file
            link(folder / dotted, files / name / stem)
            link(folder / stem / stem, files / name / stem)
        elif layout == "kaggle-mixed":  # some only dotted, some only nested
            link(folder / (dotted if f.startswith("x") else f"{stem}/{stem}"), files / name / stem)
    if layout == "npz":
        np.savez(folder / "mnist.npz", **reference[name])
    if layout == "kaggle-csv":
        for part in ("train", "test"):
            link(folder / f"fashion-mnist_{part}.csv", files / f"fashion-mnist_{part}.csv")
    return folder


def assert_reference(d: Dataset, reference, name: str) -> None:
    assert d.name == name
    assert d.verified is True
    for f in FIELDS:
        a = getattr(d, f)
        assert a.dtype == np.uint8 and a.flags.c_contiguous
        np.testing.assert_array_equal(a, reference[name][f])


# --- the published data: known facts ----------------------------------------------------

FACTS = {
    "mnist": (33.3184, 78.5675, [5, 0, 4, 1, 9, 2, 1, 3, 1, 4], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]),
    "fashion_mnist": (72.9404, 90.0212, [9, 0, 0, 3, 0, 2, 7, 2, 5, 5], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]),
}


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_known_facts(name, shared_datasets):
    d = load(name, shared_datasets)
    mean, std, first_train, first_test = FACTS[name]
    assert d.x_train.shape == (60000, 28, 28) and d.y_train.shape == (60000,)
    assert d.x_test.shape == (10000, 28, 28) and d.y_test.shape == (10000,)
    assert {getattr(d, f).dtype for f in FIELDS} == {np.dtype(np.uint8)}
    assert all(getattr(d, f).flags.c_contiguous for f in FIELDS)
    assert round(float(d.x_train.mean()), 4) == mean
    assert round(float(d.x_train.std()), 4) == std
    assert d.y_train[:10].tolist() == first_train
    assert d.y_test[:10].tolist() == first_test
    assert set(np.unique(d.y_train)) == set(range(10))
    assert (d.verified, d.layout, d.source) == (True, "idx-gz", str(shared_datasets / FOLDERS[name]))
    assert "x_train" not in repr(d)  # arrays stay out of the repr


def test_names():
    assert DATASET_NAMES == ("mnist", "fashion_mnist")
    assert CLASS_NAMES["mnist"] == [str(i) for i in range(10)]
    assert CLASS_NAMES["fashion_mnist"] == [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="cifar10"):
        load("cifar10")


# --- every layout, every place -----------------------------------------------------------

LAYOUTS = [
    ("mnist", "idx", "idx"),
    ("fashion_mnist", "idx", "idx"),
    ("mnist", "kaggle-dotted", "kaggle-idx"),
    ("mnist", "kaggle-nested", "kaggle-idx"),
    ("mnist", "kaggle-both", "kaggle-idx"),
    ("fashion_mnist", "kaggle-mixed", "kaggle-idx"),
    ("fashion_mnist", "kaggle-csv", "kaggle-csv"),
    ("mnist", "npz", "npz"),
    ("fashion_mnist", "npz", "npz"),  # an npz holding Fashion-MNIST: its labels say so
]


@pytest.mark.parametrize(("name", "build_as", "layout"), LAYOUTS)
def test_layout_in_bare_folder(name, build_as, layout, tmp_path, shared_datasets, files, reference):
    folder = build(tmp_path / "download", name, build_as, shared_datasets, files, reference)
    d = load(name, folder)
    assert_reference(d, reference, name)
    assert d.layout == layout
    assert d.source == str(folder / "mnist.npz" if layout == "npz" else folder)
    other = "mnist" if name == "fashion_mnist" else "fashion_mnist"
    with pytest.raises(DataError, match="not found"):  # the folder is used for its data set only
        load(other, folder)


@pytest.mark.parametrize(
    ("name", "sub"),
    [
        ("mnist", "mnist"),
        ("mnist", "MNIST/raw"),
        ("fashion_mnist", "fashion_mnist"),
        ("fashion_mnist", "FashionMNIST/raw"),
    ],
)
def test_parent_folder_with_subfolders(name, sub, tmp_path, shared_datasets, files, reference):
    build(tmp_path / sub, name, "idx", shared_datasets, files, reference)
    d = load(name, tmp_path)
    assert_reference(d, reference, name)
    assert d.source == str(tmp_path / sub)
    assert find_dataset_dir(name, tmp_path) == tmp_path / sub


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_bare_shared_folder(name, shared_datasets, reference):
    d = load(name, shared_datasets / FOLDERS[name])
    assert_reference(d, reference, name)


def test_keras_cache(shared_datasets, files, reference):
    cache = Path(os.environ["KERAS_HOME"]) / "datasets"
    build(cache, "mnist", "npz", shared_datasets, files, reference)
    build(cache / "fashion-mnist", "fashion_mnist", "idx-gz", shared_datasets, files, reference)
    assert_reference(m := load("mnist"), reference, "mnist")
    assert (m.layout, m.source) == ("npz", str(cache / "mnist.npz"))
    assert_reference(f := load("fashion_mnist"), reference, "fashion_mnist")
    assert (f.layout, f.source) == ("idx-gz", str(cache / "fashion-mnist"))


def test_system_folder(shared_datasets, files, reference):
    system = Path(os.environ["MNISTLAB_SYSTEM_DATA"])
    link(system / "fashion-mnist", shared_datasets / "fashion-mnist")  # Debian's layout
    assert_reference(load("fashion_mnist"), reference, "fashion_mnist")
    assert find_dataset_dir("fashion_mnist") == system / "fashion-mnist"
    assert find_dataset_dir("mnist") is None


def test_env_data(monkeypatch, shared_datasets, reference):
    monkeypatch.setenv("MNISTLAB_DATA", str(shared_datasets))
    assert_reference(load("mnist"), reference, "mnist")


PLACES = ("data_dir", "env", "cache", "system")


@pytest.mark.parametrize("first", range(len(PLACES)))
def test_search_order(first, tmp_path, monkeypatch, shared_datasets):
    roots = {
        "data_dir": tmp_path / "data_dir",
        "env": tmp_path / "env",
        "cache": Path(os.environ["KERAS_HOME"]) / "datasets",
        "system": Path(os.environ["MNISTLAB_SYSTEM_DATA"]),
    }
    for place in PLACES[first:]:  # the places before `first` hold nothing
        link(roots[place] / "mnist", shared_datasets / "mnist")
    roots["data_dir"].mkdir(exist_ok=True)
    roots["env"].mkdir(exist_ok=True)
    monkeypatch.setenv("MNISTLAB_DATA", str(roots["env"]))
    d = load("mnist", roots["data_dir"])
    assert d.source == str(roots[PLACES[first]] / "mnist")


def test_bare_mnist_folder_then_fashion_further_down(tmp_path, shared_datasets, files, reference):
    bare = build(tmp_path / "stuff", "mnist", "kaggle-both", shared_datasets, files, reference)
    link(Path(os.environ["MNISTLAB_SYSTEM_DATA"]) / "fashion-mnist", shared_datasets / "fashion-mnist")
    assert load("mnist", bare).source == str(bare)
    f = load("fashion_mnist", bare)
    assert_reference(f, reference, "fashion_mnist")
    assert f.source == str(Path(os.environ["MNISTLAB_SYSTEM_DATA"]) / "fashion-mnist")


def test_nothing_found_lists_places(tmp_path, monkeypatch):
    (tmp_path / "env").mkdir()
    monkeypatch.setenv("MNISTLAB_DATA", str(tmp_path / "env"))
    with pytest.raises(DataError) as e:
        load("fashion_mnist", tmp_path)
    message = str(e.value)
    for place in (tmp_path, tmp_path / "env", os.environ["KERAS_HOME"], os.environ["MNISTLAB_SYSTEM_DATA"]):
        assert str(place) in message
    assert "MNISTLAB_NO_DOWNLOAD" in message and "\n" not in message


def test_missing_data_dir(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="no such folder") as e:
        load("mnist", tmp_path / "nope")
    assert str(e.value).startswith(str(tmp_path / "nope"))
    monkeypatch.setenv("MNISTLAB_DATA", str(tmp_path / "gone"))
    with pytest.raises(DataError, match=r"gone: no such folder \(from \$MNISTLAB_DATA\)"):
        load("mnist")
    (tmp_path / "file").write_text("")
    with pytest.raises(DataError, match="not a folder"):
        load("mnist", tmp_path / "file")


# --- content that differs from the published data ----------------------------------------


def test_modified_pixel(tmp_path, reference):
    x = reference["mnist"]["x_train"].copy()
    x[123, 14, 14] ^= 0xFF
    folder = tmp_path / "mnist"
    for f, stem in STEMS.items():
        put(folder / stem, idx_bytes(x if f == "x_train" else reference["mnist"][f]))
    with pytest.raises(DataError) as e:
        load("mnist", tmp_path)
    assert str(e.value).startswith(
        f"{folder / 'train-images-idx3-ubyte'}: content differs from the published MNIST"
    )
    assert "pass --trust-data" in str(e.value)
    with pytest.warns(UserWarning, match="differs from the published MNIST"):
        d = load("mnist", tmp_path, trust=True)
    assert d.verified is False
    np.testing.assert_array_equal(d.x_train, x)
    np.testing.assert_array_equal(d.y_test, reference["mnist"]["y_test"])


def test_modified_csv_label(tmp_path, files, reference):
    fm = reference["fashion_mnist"]
    y = fm["y_test"].copy()
    y[7] = (y[7] + 1) % 10
    link(tmp_path / "fashion-mnist_train.csv", files / "fashion-mnist_train.csv")
    put(tmp_path / "fashion-mnist_test.csv", csv_bytes(fm["x_test"], y))
    with pytest.raises(DataError, match=r"fashion-mnist_test.csv: y_test content differs .* Fashion-MNIST"):
        load("fashion_mnist", tmp_path)
    with pytest.warns(UserWarning):
        assert load("fashion_mnist", tmp_path, trust=True).y_test[7] == y[7]


def test_name_hint_for_unknown_content(tmp_path):
    """A bare folder whose labels match neither data set goes by its name, then fails verification."""
    fashionish = write_synthetic(tmp_path / "my-fashion-set")
    with pytest.raises(DataError, match="differs from the published Fashion-MNIST"):
        load("fashion_mnist", fashionish)
    with pytest.raises(DataError, match="not found"):
        load("mnist", fashionish)
    anonymous = write_synthetic(tmp_path / "data")  # no hint: used for whichever is asked for
    with pytest.raises(DataError, match="differs from the published MNIST"):
        load("mnist", anonymous)
    with pytest.warns(UserWarning):
        d = load("fashion_mnist", anonymous, trust=True)
    assert (d.verified, d.x_train.shape, d.y_test.shape) == (False, (6, 28, 28), (4,))


# --- broken data: one line naming the file and the problem -------------------------------

RNG = np.random.default_rng(0)
SYNTH = {
    "x_train": RNG.integers(0, 256, (6, 28, 28), dtype=np.uint8),
    "y_train": np.array([1, 2, 3, 4, 5, 6], np.uint8),
    "x_test": RNG.integers(0, 256, (4, 28, 28), dtype=np.uint8),
    "y_test": np.array([9, 8, 7, 0], np.uint8),
}


def write_synthetic(folder: Path, gz: bool = True, **replace: bytes) -> Path:
    """A small idx(-gz) data set; ``replace`` gives some files' content (decompressed) instead."""
    for f, stem in STEMS.items():
        data = replace.get(f, idx_bytes(SYNTH[f]))
        put(folder / (stem + ".gz" if gz else stem), gzip.compress(data) if gz else data)
    return folder


def load_broken(folder: Path) -> str:
    with pytest.raises(DataError) as e:
        load("mnist", folder)
    message = str(e.value)
    assert "\n" not in message
    return message


BAD_IDX = {  # the file replaced, its content, the problem reported
    "wrong magic": (
        "y_train",
        idx_bytes(SYNTH["x_train"])[:16] + bytes(6),
        r"magic 0x00000803, expected 0x00000801",
    ),
    "short payload": (
        "x_train",
        idx_bytes(SYNTH["x_train"])[:-784],
        r"truncated: header says 6x28x28 = 4704 bytes, file holds 3920",
    ),
    "long payload": (
        "y_test",
        idx_bytes(SYNTH["y_test"]) + b"\0",
        r"trailing data: header says 4 = 4 bytes, file holds 5",
    ),
    "short header": (
        "x_test",
        idx_bytes(SYNTH["x_test"])[:10],
        r"truncated IDX header \(10 bytes, expected 16\)",
    ),
    "empty": ("y_train", b"", r"not an IDX labels file \(0 bytes"),
    "count mismatch": (
        "y_train",
        idx_bytes(SYNTH["y_train"][:5]),
        r"5 labels for 6 images in train-images-idx3-ubyte",
    ),
    "27x28 images": ("x_test", idx_bytes(SYNTH["x_test"][:, :27]), r"images are 27x28, expected 28x28"),
    "label 10": (
        "y_test",
        idx_bytes(np.array([9, 8, 10, 0], np.uint8)),
        r"label 10 at index 2 is outside 0-9",
    ),
}


@pytest.mark.parametrize("gz", [True, False], ids=["idx-gz", "idx"])
@pytest.mark.parametrize("case", BAD_IDX)
def test_broken_idx(case, gz, tmp_path):
    f, content, problem = BAD_IDX[case]
    message = load_broken(write_synthetic(tmp_path, gz, **{f: content}))
    name = STEMS[f] + (".gz" if gz else "")
    assert message.startswith(str(tmp_path / name) + ": "), message
    assert re.search(problem, message), message


@pytest.mark.parametrize(
    ("mangle", "problem"),
    [
        (lambda gz: gz[: len(gz) // 2], "truncated gzip file"),
        (lambda gz: gzip.decompress(gz), "not a valid gzip file"),
        (lambda gz: gz[:-4] + b"\0\0\0\0", "not a valid gzip file"),  # wrong length in the trailer
        (lambda gz: gz + b"garbage", "not a valid gzip file"),
    ],
    ids=["truncated", "not-gzip", "bad-trailer", "trailing-garbage"],
)
def test_broken_gzip(mangle, problem, tmp_path):
    write_synthetic(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    put(path, mangle(path.read_bytes()))
    assert load_broken(tmp_path).startswith(f"{path}: {problem}")


def test_gzip_without_suffix(tmp_path):
    write_synthetic(tmp_path, gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    put(path, gzip.compress(path.read_bytes()))
    assert load_broken(tmp_path) == f"{path}: gzip-compressed, but the name does not end in .gz"


def test_unreadable_file(tmp_path, monkeypatch):
    write_synthetic(tmp_path)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: refuse this one file instead
        real_open = open

        def refusing_open(file, *args, **kwargs):
            if Path(file) == path:
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(idx, "open", refusing_open, raising=False)
    assert load_broken(tmp_path) == f"{path}: cannot read (Permission denied)"


@pytest.mark.parametrize("layout", ["idx-gz", "kaggle-dotted", "kaggle-csv"])
def test_incomplete(layout, tmp_path):
    if layout == "kaggle-csv":
        put(tmp_path / "fashion-mnist_train.csv", b"label\n")
        missing = "fashion-mnist_test.csv"
    else:
        write_synthetic(tmp_path, gz=layout == "idx-gz")
        if layout == "kaggle-dotted":
            for stem in STEMS.values():
                (tmp_path / stem).rename(tmp_path / stem.replace("-idx", ".idx"))
        doomed = next(tmp_path.glob("t10k-images*"))
        doomed.unlink()
        missing = doomed.name
    message = load_broken(tmp_path)
    assert message.startswith(f"{tmp_path}: incomplete ")
    assert message.endswith(f"missing {missing}")


# Kaggle CSV: a train file holding these rows after a valid header; the test file is fine.
ROW = ",".join(["3"] + ["0"] * 784)
BAD_CSV = {
    "short row": (f"{ROW}\n{ROW}\n{ROW[:-2]}\n", r"line 4: 784 values, expected 785"),
    "long row": (f"{ROW},0\n", r"line 2: 786 values, expected 785"),
    "all rows short": (f"{ROW[:-2]}\n{ROW[:-2]}\n", r"line 2: 784 values, expected 785"),
    "float": (f"{ROW}\n{ROW[:-1]}1.5\n", r"line 3, column 785: '1.5' is not an integer in 0-255"),
    "text": (f"{ROW[:-1]}x\n", r"line 2, column 785: 'x' is not an integer in 0-255"),
    "256": (f"{ROW}\n{ROW}\n{ROW[:-1]}256\n", r"line 4, column 785: '256' is not an integer in 0-255"),
    "negative": (f"3,-1{ROW[3:]}\n", r"line 2, column 2: '-1' is not an integer in 0-255"),
    "empty value": (f"3,{ROW[3:]}\n", r"line 2, column 2: '' is not an integer in 0-255"),
    "label 13": (f"{ROW}\n1{ROW}\n", r"line 3: label 13 is outside 0-9"),
    "not ascii": (f"{ROW}\n3,\u00e9{ROW[3:]}\n", r"line 3, column 2: .* is not an integer in 0-255"),
    "header only": ("", r"no images after the header"),
}  # fmt: skip
HEADER = "label," + ",".join(f"pixel{i}" for i in range(1, 785)) + "\n"


@pytest.mark.parametrize("case", BAD_CSV)
def test_broken_csv(case, tmp_path):
    rows, problem = BAD_CSV[case]
    put(tmp_path / "fashion-mnist_train.csv", (HEADER + rows).encode())
    put(tmp_path / "fashion-mnist_test.csv", (HEADER + ROW + "\n").encode())
    with pytest.raises(DataError) as e:
        load("fashion_mnist", tmp_path)
    assert str(e.value).startswith(f"{tmp_path / 'fashion-mnist_train.csv'}: ")
    assert re.search(problem, str(e.value)), str(e.value)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty file"),
        (ROW.encode() + b"\n", "missing header"),
        (b"label,pixel1\n1,2\n", "missing header"),
    ],
    ids=["empty", "no-header", "short-header"],
)
def test_broken_csv_header(content, problem, tmp_path):
    put(tmp_path / "fashion-mnist_train.csv", (HEADER + ROW + "\n").encode())
    put(tmp_path / "fashion-mnist_test.csv", content)
    with pytest.raises(DataError, match=f"^{tmp_path / 'fashion-mnist_test.csv'}: {problem}"):
        load("fashion_mnist", tmp_path)


def test_csv_tolerates_crlf_and_blank_lines(tmp_path):
    put(tmp_path / "fashion-mnist_train.csv", (HEADER + ROW + "\r\n\r\n" + ROW + "\r\n").encode())
    put(tmp_path / "fashion-mnist_test.csv", (HEADER + ROW).encode())  # no final newline
    with pytest.warns(UserWarning):
        d = load("fashion_mnist", tmp_path, trust=True)
    assert d.x_train.shape == (2, 28, 28) and d.y_train.tolist() == [3, 3] and d.layout == "kaggle-csv"


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def npy_bytes(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def synth_npz(**changes) -> bytes:
    return npz_bytes(**{**SYNTH, **changes})


BAD_NPZ = {  # the content of mnist.npz, the problem reported
    "missing array": (
        npz_bytes(**{k: v for k, v in SYNTH.items() if k != "y_test"}),
        r"missing arrays y_test \(it holds x_train, y_train, x_test\)",
    ),
    "float images": (
        synth_npz(x_train=SYNTH["x_train"] / 255),
        r"x_train is float64 \(6, 28, 28\), expected uint8 with 3 dimension",
    ),
    "flat images": (
        synth_npz(x_test=SYNTH["x_test"].reshape(4, 784)),
        r"x_test is uint8 \(4, 784\), expected uint8 with 3 dimension",
    ),
    "int64 labels": (synth_npz(y_train=SYNTH["y_train"].astype(np.int64)), r"y_train is int64 \(6,\)"),
    "27x28": (synth_npz(x_train=SYNTH["x_train"][:, 1:]), r"x_train: images are 27x28, expected 28x28"),
    "label 12": (
        synth_npz(y_test=np.array([1, 12, 0, 0], np.uint8)),
        r"y_test: label 12 at index 1 is outside 0-9",
    ),
    "count": (synth_npz(y_test=SYNTH["y_test"][:3]), r"y_test holds 3 labels for 4 images in x_test"),
    "pickled": (
        synth_npz(y_test=np.array([object()], dtype=object)),
        r"not a valid \.npz file \(ValueError: Object arrays",
    ),
    "truncated": (npz_bytes(**SYNTH)[:3000], r"not a valid \.npz file"),
    "not a zip": (b"hello, world", r"not a valid \.npz file"),
    "empty": (b"", r"not a valid \.npz file"),
    "npy": (npy_bytes(SYNTH["x_train"]), r"not an \.npz archive"),
}


@pytest.mark.parametrize("case", BAD_NPZ)
def test_broken_npz(case, tmp_path):
    content, problem = BAD_NPZ[case]
    put(tmp_path / "mnist" / "mnist.npz", content)
    message = load_broken(tmp_path)
    assert message.startswith(f"{tmp_path / 'mnist' / 'mnist.npz'}: "), message
    assert re.search(problem, message), message


# --- the IDX codec and the parsers never fail with anything but DataError ------------------


@settings(max_examples=60, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(0, 5), st.integers(0, 30), st.integers(0, 30))))
def test_idx_round_trip(a):
    data = idx.encode(a)
    np.testing.assert_array_equal(idx.decode(data, 3, "x"), a)
    assert idx.digest(a) == hashlib.sha256(data).hexdigest()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.sampled_from([1, 3]))
def test_idx_decode_random_bytes(data, ndim):
    try:
        a = idx.decode(data, ndim, "f")
    except DataError as e:
        assert str(e).startswith("f: ")
    else:
        assert a.ndim == ndim and idx.encode(a) == data


def _mutations():
    good = (HEADER + ROW + "\n" + ROW + "\n").encode()
    return st.tuples(st.integers(0, len(good)), st.integers(0, 8), st.binary(max_size=8)).map(
        lambda t: good[: t[0]] + t[2] + good[t[0] + t[1] :]
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_csv_parser_mutations(content):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fashion-mnist_train.csv"
        path.write_bytes(content)
        try:
            x, y = sources._read_csv(path)
        except DataError as e:
            assert str(e).startswith(f"{path}: ") and "\n" not in str(e)
        else:
            assert x.shape[1:] == (28, 28) and len(x) == len(y) and y.max() <= 9


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2000), st.integers(1, 64), st.binary(min_size=1, max_size=64))
def test_npz_reader_mutations(at, cut, junk):
    good = npz_bytes(**{k: v[:2] for k, v in SYNTH.items()})
    at = at * len(good) // 2000
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "mnist.npz"
        path.write_bytes(good[:at] + junk + good[at + cut :])
        try:
            arrays = sources._read_npz(path, FIELDS)
        except DataError as e:
            assert str(e).startswith(f"{path}: ") and "\n" not in str(e)
        else:
            assert arrays["x_train"].dtype == np.uint8
