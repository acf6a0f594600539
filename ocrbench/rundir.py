"""A run directory: checked writable before any work, held by one run at a time, and written one
whole file at a time, so that a second run, a full disk or a kill never leaves half a file behind.

Every file is written under a unique temporary name beside its target and renamed over it when
complete (`os.replace` is atomic), so a reader sees the old file or the new one. A write that fails
(no space, a read-only folder) removes its temporary file and becomes one `OcrbenchError` line.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from ocrbench.errors import OcrbenchError

LOCK = ".lock"  # holds the pid of the run that writes into the folder
TEMPORARY_PREFIX = ".tmp-"


class RunDirBusy(OcrbenchError):
    """Another process holds the run directory."""


def _why(error: OSError) -> str:
    return error.strerror or type(error).__name__


def prepare(path: Path) -> Path:
    """Make the folder (and its parents) or say in one line why it cannot be a run directory."""
    if path.exists() and not path.is_dir():
        raise OcrbenchError(f"{path} is a file, not a folder: give a folder for the run")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OcrbenchError(f"cannot create the run folder {path}: {_why(error)}") from None
    return path


@contextlib.contextmanager
def locked(path: Path) -> Iterator[Path]:
    """Hold `path` for this process: a second run into it fails at once, naming the holder.

    The lock is an advisory `flock` on `path/.lock`: the kernel drops it when its holder dies,
    however it dies, so a killed run never leaves a stale lock behind. Taking it also proves the
    folder writable before any work starts. Re-entrant within a thread (a sweep's API call inside
    the command that also renders its report); another thread of the process is refused.
    """
    prepare(path)
    held = (path.resolve(), threading.get_ident())  # another thread is another run
    if held in _held:
        yield path
        return
    lock_path = path / LOCK
    try:
        handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise OcrbenchError(f"cannot write into the run folder {path}: {_why(error)}") from None
    try:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks here; one writer is the user's business
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise OcrbenchError(
                        f"cannot lock the run folder {path}: {_why(error)}"
                    ) from None
                holder = os.pread(handle, 64, 0).decode(errors="replace").strip() or "unknown"
                raise RunDirBusy(
                    f"{path} is in use by another ocrbench run (pid {holder}); wait for it to "
                    "finish, or give another output folder"
                ) from None
        try:
            os.ftruncate(handle, 0)
            os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
        except OSError as error:
            raise OcrbenchError(f"cannot write into the run folder {path}: {_why(error)}") from None
        _held.add(held)
        # A killed writer's (none is live now); only this folder's own files, not those of a run
        # folder or cache below it, which another process may be writing.
        for stale in path.glob(f"{TEMPORARY_PREFIX}*"):
            with contextlib.suppress(OSError):
                stale.unlink()
        try:
            yield path
        finally:
            _held.discard(held)
    finally:
        os.close(handle)  # releases the flock


_held: set[tuple[Path, int]] = set()  # the run folders this process holds, and in which thread

_UMASK: int | None = None


def _file_mode() -> int:
    """The mode a plain `open()` would give a new file (mkstemp's are private, 0600)."""
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0)
        os.umask(_UMASK)
    return 0o666 & ~_UMASK


def replace_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Call `write(temporary)`, then rename the temporary file over `path`; on any failure the
    temporary file is removed, and an OSError becomes one line that names `path`."""
    try:
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMPORARY_PREFIX}{path.name}.")
    except OSError as error:
        raise OcrbenchError(f"cannot write {path}: {_why(error)}") from None
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        os.chmod(temporary, _file_mode())
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise OcrbenchError(f"cannot write {path}: {_why(error)}") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_text(path: Path, text: str) -> Path:
    """`text` into `path` as UTF-8, atomically."""
    return replace_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
