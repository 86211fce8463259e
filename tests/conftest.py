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


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """Never read the user's Keras cache or $MNISTLAB_DATA, never download in tests."""
    home = tmp_path_factory.mktemp("keras_home")
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.delenv("MNISTLAB_DATA", raising=False)
    monkeypatch.setenv("MNISTLAB_NO_DOWNLOAD", "1")
    monkeypatch.setenv("MNISTLAB_SYSTEM_DATA", str(tmp_path_factory.mktemp("no_system_data")))
