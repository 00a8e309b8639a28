"""Writing output files that respect what is there: a regular file is replaced atomically (a
crash or Ctrl-C leaves the old file or none, never half a file); a symlink is followed and its
target written, the link left a link; a device, FIFO or socket (``/dev/null``, ``/dev/stdout``)
is written in place. Errors name the path the caller gave, never a temporary file."""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Final

__all__ = ["is_special", "unwritable", "write_atomic"]

_MAX_LINKS: Final = 40  # as the kernel's limit on a chain of symlinks
_MAGIC: Final = "/proc/"
"""``/dev/stdout`` and ``/dev/fd/N`` are links into ``/proc/<pid>/fd``, whose links name an
open file, not a path to replace: whatever they reach is written in place."""
_OPEN_FILE: Final = re.compile(r"/proc/(\d+)(?:/task/\d+)?/fd/(\d+)\Z")
"""A process's open file: ``/proc/<pid>/fd/<fd>``."""


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` to ``path``: to a temporary file beside the file ``path`` resolves to
    (through symlinks), then renamed over it; a device, FIFO or socket in place.

    Raises:
        OSError: it cannot be written; its ``filename`` is ``path``, as given.
    """
    payload = data.encode() if isinstance(data, str) else data
    chain = _links(os.fspath(path))
    try:
        if _in_place(chain):
            _write_in_place(chain, payload)
        else:
            _replace(Path(chain[-1]), payload)
    except OSError as exc:
        if exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None  # its kind, by errno
    return Path(path)


def is_special(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is written in place, not replaced: a device, FIFO or socket, or reached
    through ``/proc`` (``/dev/stdout``); each graph written there goes to the same place."""
    return _in_place(_links(os.fspath(path)))


def unwritable(path: str | os.PathLike[str], *, folder_only: bool = False) -> str | None:
    """Why ``path`` cannot be written, in a few words; None when it can (as far as can be
    told before writing). ``folder_only``: whether its folder can be written into."""
    chain = _links(os.fspath(path))
    if _in_place(chain):
        return None if os.access(chain[0], os.W_OK) else "permission denied"
    target = Path(chain[-1] if len(chain) > 1 else path)  # a link's target, else as given
    parent = target.parent
    if not parent.is_dir():
        return f"folder {parent} does not exist"
    if not folder_only and target.is_dir():
        return "it is a folder, not a file"
    if not os.access(parent, os.W_OK):
        return "permission denied"
    return None


def _links(path: str) -> list[str]:
    """``path``, then each path the symlinks from it name in turn, each with its folder
    resolved (the last is the file to write, which may not exist: a dangling link's target)."""
    chain = [_in_real_folder(path)]
    while len(chain) <= _MAX_LINKS:
        try:
            named = os.readlink(chain[-1])
        except OSError:  # not a link, or not there
            break
        chain.append(_in_real_folder(os.path.join(os.path.dirname(chain[-1]), named)))
    return chain


def _in_real_folder(path: str) -> str:
    """``path`` in its folder's real path (``/dev/fd/1`` is ``/proc/<pid>/fd/1``)."""
    folder, name = os.path.split(path)
    return os.path.join(os.path.realpath(folder or "."), name)


def _in_place(chain: list[str]) -> bool:
    if any(p.startswith(_MAGIC) for p in chain):
        return True
    try:
        mode = os.stat(chain[0]).st_mode
    except OSError:  # not there (yet): a new file
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _write_in_place(chain: list[str], payload: bytes) -> None:
    """Open ``chain[0]`` for writing as it is (no truncation, no creation) and write to it.
    One of this process's open files (``/dev/stdout``) is written through a copy of its
    descriptor: at its offset, after what was written there before, as a shell's ``>`` expects."""
    opened = [m for m in map(_OPEN_FILE.match, chain) if m is not None]
    if opened and int(opened[0][1]) == os.getpid():
        fd = os.dup(int(opened[0][2]))
    else:
        fd = os.open(chain[0], os.O_WRONLY | os.O_NOCTTY)
    with open(fd, "wb") as f:
        f.write(payload)
        f.flush()


def _replace(target: Path, payload: bytes) -> None:
    """Write a temporary file beside ``target``, with ``target``'s permissions (or the
    default ones for a new file), and rename it over ``target``."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
