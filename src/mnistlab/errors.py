"""The project's own error: one line for the user, never a traceback."""

from __future__ import annotations

import os


class MnistlabError(Exception):
    """A problem the user can act on, printed as one line by the CLI.

    Args:
        message: what went wrong and, where it helps, what to do about it.
        path: the file or folder concerned; printed first when given.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.message = message
        self.path = None if path is None else os.fspath(path)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class DataError(MnistlabError):
    """A data file that is missing, unreadable, malformed or not the published data set."""


class ConfigError(MnistlabError):
    """An experiment file or an override that names an unknown key or holds a wrong type."""


class DivergedError(MnistlabError):
    """Training produced a NaN or infinite loss; the experiment stops and is recorded as failed.

    Args:
        message: what happened (which loss, which epoch and batch).
        last_good_epoch: the last epoch that finished with a finite loss (0 if none).
    """

    def __init__(self, message: str, last_good_epoch: int):
        self.last_good_epoch = last_good_epoch
        super().__init__(message)


class RunFolderBusy(MnistlabError):
    """Another mnistlab process holds the run folder's lock."""


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7f, 0xa0)]} | {0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t"}


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``...): a file name cannot forge a line of
    output or send escape sequences to the terminal."""
    return str(text).translate(_CONTROL)
