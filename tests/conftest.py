"""Shared fixtures: where the reference data sets live, and isolation from the user's caches."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# CI clones the repository with shared/ beside it (see .ci/run); so does a developer checkout.
SHARED_DATASETS = Path(os.environ.get("MNISTLAB_SHARED_DATASETS", REPO.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The folder holding complete reference copies: mnist/ and fashion-mnist/ (gzip'd IDX)."""
    if not (SHARED_DATASETS / "mnist").is_dir():
        pytest.skip(f"reference data sets not found at {SHARED_DATASETS}")
    return SHARED_DATASETS


QUICK = ["--set", "epochs=1", "--set", "train_limit=600", "--set", "test_limit=200"]


@pytest.fixture(scope="session")
def lab_run(tmp_path_factory, shared_datasets) -> Path:
    """The whole lab and its extended studies, one epoch on slices, two seeds: one `mnistlab run` (with its
    report) for every test that reads a whole run folder. Tests read it or copy it, never change it."""
    from mnistlab import cli

    out = tmp_path_factory.mktemp("lab_run") / "lab"
    assert cli.main(["run", "--out", str(out), "--data", str(shared_datasets), *QUICK, "--extended",
                     "--seeds", "2"]) == 0
    return out


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """Never read the user's Keras cache or $MNISTLAB_DATA, never download in tests."""
    home = tmp_path_factory.mktemp("keras_home")
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.delenv("MNISTLAB_DATA", raising=False)
    monkeypatch.setenv("MNISTLAB_NO_DOWNLOAD", "1")
    monkeypatch.setenv("MNISTLAB_SYSTEM_DATA", str(tmp_path_factory.mktemp("no_system_data")))


CHROMIUM = os.environ.get("MNISTLAB_CHROMIUM", "/usr/bin/chromium")
# Flags for a root, offline machine: no sandbox (root), no background calls to Google's hosts.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium driven by Playwright (Debian's chromium; .ci/run installs it).

    Skipped outside CI when Chromium or Playwright is missing; in CI (CI=true) that is a failure.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("playwright is not installed (pip install -e .[test])")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} not found: .ci/run should install Debian's chromium")
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
