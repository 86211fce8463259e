"""The child process of ``mnistlab grade --execute``: ``python -m mnistlab.grade.child IN OUT TIMEOUT``.

Executes notebook IN in one kernel (errors recorded in the cells, not raised) and writes OUT. The parent
sets the limits and the network namespace; this module only runs the cells.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    import nbformat
    from nbclient import NotebookClient

    from mnistlab.notebook import kernel

    src, dst, timeout = argv[0], argv[1], int(argv[2])
    nb = nbformat.reads(open(src, encoding="utf-8").read(), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    with kernel.manager() as km:
        # IPC sockets, not TCP: inside a network namespace even the loopback interface is down
        km.transport, km.ip = "ipc", os.path.join(os.getcwd(), "kernel-ipc")
        NotebookClient(nb, km=km, timeout=timeout, allow_errors=True, kernel_name=kernel.KERNEL_NAME,
                       resources={"metadata": {"path": "."}}).execute()
    with open(dst, "w", encoding="utf-8") as f:
        f.write(nbformat.writes(nb))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
