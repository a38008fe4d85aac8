"""The errors a user can act on, raised by runs and run directories.

Each message is one line that names the file or option, the value and what to do. ``mi-ssl`` prints it
and exits with status 2 (:func:`mi_ssl.cli.main`); so it does for ``ValueError`` (a bad option or
parameter, e.g. :class:`mi_ssl.params.ParameterError`, :class:`mi_ssl.data.base.DatasetError`) and for
``OSError`` (a missing file, a full disk). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["MiSslError", "RunDirError", "CheckpointError", "DivergenceError", "MissingExtraError"]


class MiSslError(Exception):
    """Base of the errors below: something about the run or its files that the user can fix."""


class RunDirError(MiSslError, ValueError):
    """A run directory cannot be used as asked: it holds another run, another process writes it, or
    ``resume`` was asked with settings that differ from the run's."""


class CheckpointError(RunDirError):
    """A file that should be a checkpoint (or a run's JSON) is not one: corrupt, truncated, a directory,
    or written by something else. The message names the file."""


class DivergenceError(MiSslError, RuntimeError):
    """Training diverged (non-finite loss, or exploding embeddings or weights); the run stopped and its last
    good checkpoint was kept."""


class MissingExtraError(MiSslError, ImportError):
    """An optional dependency (a ``pip install 'mi-ssl[EXTRA]'`` extra) is needed for what was asked."""
