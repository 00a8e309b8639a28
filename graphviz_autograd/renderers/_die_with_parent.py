"""A program, not a module to import: ``python -I -S _die_with_parent.py PARENT_PID EXE ARGS...``
asks Linux to SIGKILL it when its parent dies, even by SIGKILL, then becomes ``EXE ARGS...``.

`layout.run_dot` runs Graphviz `dot` through it, so that `dot` never outlives gradviz:
PR_SET_PDEATHSIG (1) survives exec. A separate program because ``preexec_fn`` is not safe in
a process with threads (torch's). The parent is the thread that started it, which waits for
it in `run_dot`. It imports only the standard library: it runs isolated (``-I -S``).
"""

import ctypes
import os
import sys


def main(argv: list[str]) -> None:
    """``argv``: the parent's pid, then the command to become."""
    ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
    if os.getppid() != int(argv[0]):
        sys.exit(1)  # the parent died before prctl: nobody waits for the output
    os.execv(argv[1], argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
