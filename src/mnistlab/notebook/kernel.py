"""A Jupyter kernel that runs this Python (``sys.executable``), without ``ipykernel install``.

The kernel spec lives in a temporary folder for the life of the execution, so a fresh virtual environment
(CI's) works as it is; the saved notebook names the usual ``python3`` kernel, which Jupyter and Colab have.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mnistlab.errors import MnistlabError

KERNEL_NAME = "mnistlab-python3"
# What the saved notebook says it needs: the standard Python 3 kernel.
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
# The libraries the notebook's code imports (the lab's) and those that execute and export it.
LAB_LIBRARIES = ("tensorflow", "numpy", "matplotlib", "seaborn", "sklearn")
TOOLS = ("nbformat", "nbclient", "ipykernel", "nbconvert", "jupyter_client")
_PIP = {"sklearn": "scikit-learn"}


def require(modules: tuple[str, ...]) -> None:
    """Raise one line naming what to install when one of ``modules`` is missing.

    Raises:
        MnistlabError: ``pip install ...`` for every missing module.
    """
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        names = " ".join(_PIP.get(m, m) for m in missing)
        raise MnistlabError(f"the notebook needs {', '.join(missing)}: install with `pip install {names}` "
                            "(or `pip install -e .` from the project)")


def _pythonpath() -> str:
    """PYTHONPATH for the kernel: this mnistlab's folder first, then the caller's entries made absolute (the
    kernel starts in the notebook's folder, where a relative ``src`` would name nothing or another copy)."""
    import mnistlab

    own = Path(mnistlab.__file__).resolve().parents[1]
    first = [] if own.name in ("site-packages", "dist-packages") else [str(own)]  # installed: found anyway
    rest = [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys([*first, *rest]))


@contextlib.contextmanager
def manager(data_dir: str | None = None, *, grader: bool = False, quick: bool = False,
            speed: bool = True) -> Iterator[object]:
    """A jupyter_client KernelManager whose kernel is ``sys.executable -m ipykernel_launcher``.

    The kernel runs a start-up file before any cell (:mod:`mnistlab.notebook.loader`): the lab's
    ``load_data()`` calls then serve ``data_dir`` offline (when given) and record what they returned;
    ``grader`` and ``quick`` as for :func:`mnistlab.notebook.loader.install`; with ``speed`` (the default) it
    also installs :mod:`mnistlab.notebook.speed`, which makes the cells faster and leaves every number they
    print as in a plain kernel (``speed=False``: that plain kernel).
    """
    require(TOOLS)
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryDirectory(prefix="mnistlab-kernel-") as tmp:
        folder = Path(tmp) / KERNEL_NAME
        folder.mkdir()
        from mnistlab.notebook import loader

        startup = Path(tmp) / "mnistlab_startup.py"
        startup.write_text(loader.startup_source(data_dir, grader=grader, quick=quick, speed=speed),
                           encoding="utf-8")
        spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                         f"--IPKernelApp.exec_files={json.dumps([str(startup)])}",
                         # C-level lines (TensorFlow start-up) go to the kernel's stderr, not the cells
                         "--IPKernelApp.capture_fd_output=False"],
                "display_name": KERNELSPEC["display_name"], "language": "python",
                # TensorFlow's C++ start-up lines (no GPU found, CPU features) are not the lab's output.
                "env": {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1", "PYTHONPATH": _pythonpath()}}
        (folder / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
        ksm = KernelSpecManager(kernel_dirs=[tmp], ensure_native_kernel=False)
        yield KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=ksm)
