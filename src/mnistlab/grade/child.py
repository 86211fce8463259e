"""The process that executes one notebook inside the sandbox of ``mnistlab grade --execute``:
``python -m mnistlab.grade.child IN OUT TIMEOUT [--data DIR] [--keras-home] [--quick]``.

Executes notebook IN in one kernel (errors recorded in the cells, not raised) and writes OUT. The kernel's
start-up file (:mod:`mnistlab.notebook.loader`) serves ``load_data()`` from DIR, turns any data failure into the
grader's error, and with ``--quick`` trains 1 epoch on slices. The sandbox sets every limit; this module only runs
the cells.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    import nbformat
    from nbclient import NotebookClient

    from mnistlab.notebook import kernel

    src, dst, timeout = argv[0], argv[1], int(argv[2])
    data = argv[argv.index("--data") + 1] if "--data" in argv else None
    with open(src, encoding="utf-8") as f:
        nb = nbformat.reads(f.read(), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    with kernel.manager(data, grader=True, quick="--quick" in argv) as km:
        # IPC sockets, not TCP: inside the sandbox's network namespace even the loopback interface is down
        km.transport, km.ip = "ipc", os.path.join(os.getcwd(), "kernel-ipc")
        NotebookClient(nb, km=km, timeout=timeout, allow_errors=True, kernel_name=kernel.KERNEL_NAME,
                       resources={"metadata": {"path": "."}}).execute()
    with open(dst, "w", encoding="utf-8") as f:
        f.write(nbformat.writes(nb))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
