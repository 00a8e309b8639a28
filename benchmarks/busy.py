"""Gradient summaries on a quiet machine and on a busy one (one spinning process per core).

    .venv/bin/python benchmarks/busy.py [--repeat 7] [--spinners N] [--out FILE] [--only KEY ...]

For ResNet-18 and the small ViT of ``models.py``, each in a process of its own
(``busy.py --child KEY``), after ``backward()``, in alternating rounds, each call after a
``gc.collect()``, first on the quiet machine and then with ``--spinners`` processes (default: one
per core) each running ``while True: pass``:

- *gradviz*: ``to_dot(build_graph(loss, params=params))``, every gradient summarised;
- *floor*: the same call with every ``.grad`` set to None, plus one ``torch.linalg.vector_norm``
  over each gradient (as in ``real_models.py``);
- *hooks*: the summaries ``gradviz run`` makes in one backward call: its node hooks
  (``GradHooks``) replayed on what the hooks of one ``backward()`` were handed (each node's
  gradient at its outputs and what it passes to each input), against one ``vector_norm`` over
  each distinct tensor among them (*hooks floor*);
- *passes* (quiet machine only): what one summary is made of, each op over the gradients the
  hooks read (each distinct tensor, a view of one read counts once) on one thread, as
  summaries run, against one ``vector_norm`` over the same: the sum of squares, the smallest
  and largest value, a float32 sum, a float64 sum (in chunks, as ``trace/stats.py`` sums values
  that cancel) and the whole `summarize`. The sum of the first four is the least a summary of
  these figures costs with torch's reductions, one pass each.

The spinners share the benchmark's session, as a user's other jobs from the same shell do (the
kernel's autogroups share the CPU between sessions first: spinners in a session of their own take
less from this one). Each spinner is killed when the measuring process ends, however it ends
(``try``/``finally``, and the kernel's parent-death signal if the process is killed).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from operator import truediv
from pathlib import Path
from statistics import median
from typing import Any

from real_models import floor_call
from run import MARK, ROOT, child_row, fmt_ratio, fmt_s, machine_line, rounds, table

KEYS = ("resnet18", "vit-small")
CHILD_TIMEOUT = 900.0
SPIN = (
    "import ctypes, signal\n"
    "try:\n"  # PR_SET_PDEATHSIG: die with the process that started us
    "    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)\n"
    "except (OSError, AttributeError):\n"
    "    pass\n"
    "while True:\n"
    "    pass\n"
)


@contextmanager
def spinning(count: int) -> Iterator[None]:
    """``count`` processes, each spinning on a core, for the time of the block."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            procs.append(subprocess.Popen([sys.executable, "-c", SPIN], process_group=0))
        yield
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def hook_calls(loss: Any) -> list[tuple[Any, Any]]:
    """What the node hooks of one ``backward()`` of ``loss`` are handed, in the order the
    engine runs them: each node's ``(grad_inputs, grad_outputs)``."""
    calls: list[tuple[Any, Any]] = []
    fns, stack = {loss.grad_fn}, [loss.grad_fn]
    while stack:
        for child, _ in stack.pop().next_functions:
            if child is not None and child not in fns:
                fns.add(child)
                stack.append(child)

    def hook(grad_inputs: Any, grad_outputs: Any) -> None:
        calls.append((grad_inputs, grad_outputs))

    handles = [fn.register_hook(hook) for fn in fns]
    loss.backward(retain_graph=True)
    for handle in handles:
        handle.remove()
    return calls


def distinct_tensors(calls: list[tuple[Any, Any]]) -> list[Any]:
    """Each gradient tensor the hooks are handed, once."""
    seen = {id(g): g for pair in calls for grads in pair for g in grads if g is not None}
    return list(seen.values())


PASSES = ("dot", "amin", "amax", "sum", "sum64", "summarize")
"""The ops of one summary `passes` times, each against one ``vector_norm``."""


def passes(tensors: list[Any], repeat: int) -> dict[str, float]:
    """Median time of each op of `PASSES` over ``tensors``, on one thread, ÷ that of
    ``vector_norm``; and ``cancelling``, the share of their values whose mean is summed in
    float64 (the values cancel)."""
    import math

    import torch

    from graphviz_autograd.trace.stats import (
        CHUNK,
        WIDE_SUM_MAX,
        _in_memory_order,
        same_values,
        summarize,
    )

    regions: dict[Any, Any] = {}
    for t in tensors:  # what the hooks read: one tensor per block of memory
        regions.setdefault(same_values(t) or id(t), t)
    flats = [_in_memory_order(t.detach().float()) for t in regions.values()]

    def sum64(f: Any) -> float:
        return math.fsum(float(part.sum(dtype=torch.float64)) for part in torch.split(f, CHUNK))

    ops: dict[str, Callable[[], Any]] = {
        "norm": lambda: [float(torch.linalg.vector_norm(f)) for f in flats],
        "dot": lambda: [float(torch.dot(f, f)) for f in flats],
        "amin": lambda: [float(f.amin()) for f in flats],
        "amax": lambda: [float(f.amax()) for f in flats],
        "sum": lambda: [float(f.sum()) for f in flats],
        "sum64": lambda: [sum64(f) for f in flats],
        "summarize": lambda: [summarize(f) for f in flats],
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rounds(ops, 1)
        times = {name: median(values) for name, values in rounds(ops, repeat).items()}
    finally:
        torch.set_num_threads(threads)
    out = {name: times[name] / times["norm"] for name in PASSES}
    values = sum(f.numel() for f in flats)
    wide = 0
    for f in flats:
        n = f.numel()
        # as trace/stats.py _sum decides: a mean under 1/1000 of the root mean square
        if n > WIDE_SUM_MAX and abs(sum64(f)) * 1000 < math.sqrt(n) * float(
            torch.linalg.vector_norm(f)
        ):
            wide += n
    out["cancelling"] = wide / values
    out["read_tensors"], out["read_values"] = len(flats), values
    return out


def timed(contenders: dict[str, Callable[[], Any]], repeat: int, row: dict[str, Any], tag: str):
    """Medians of ``repeat`` alternating rounds into ``row``, keys suffixed with ``tag``."""
    times = rounds(contenders, repeat)
    for name, values in times.items():
        row[f"{name}_{tag}"] = median(values)
    row[f"ratio_{tag}"] = median(map(truediv, times["gradviz"], times["floor"]))
    row[f"hooks_ratio_{tag}"] = median(map(truediv, times["hooks"], times["hooks_floor"]))


def measure(key: str, repeat: int, spinners: int) -> dict[str, Any]:
    """The gradviz call, its floor and the hooks' summaries for model ``key``, quiet and busy."""
    warnings.simplefilter("ignore")  # transformers warns
    sys.path.insert(0, str(ROOT))
    import models
    import torch

    from graphviz_autograd import build_graph, to_dot
    from graphviz_autograd.trace.grad_hooks import GradHooks

    loss, params = models.build(key)
    calls = hook_calls(loss)
    seen = distinct_tensors(calls)
    for p in params.values():
        p.grad = None
    loss.backward()
    grads = [p.grad for p in params.values() if p.grad is not None]

    def hooks() -> GradHooks:
        replay = GradHooks([])
        for index, (grad_inputs, grad_outputs) in enumerate(calls):
            replay._hook(index)(grad_inputs, grad_outputs)
        return replay

    contenders = {
        "gradviz": lambda: to_dot(build_graph(loss, params=params)),
        "floor": floor_call(loss, params),
        "hooks": hooks,
        "hooks_floor": lambda: [float(torch.linalg.vector_norm(g.float())) for g in seen],
    }
    row: dict[str, Any] = {
        "key": key,
        "title": models.MODELS[key][0],
        "grads": len(grads),
        "grad_values": sum(g.numel() for g in grads),
        "hook_tensors": len(seen),
        "hook_values": sum(g.numel() for g in seen),
        "threads": torch.get_num_threads(),
        "spinners": spinners,
    }
    rounds(contenders, 1)  # warm up
    row["load_quiet"] = os.getloadavg()[0]
    timed(contenders, repeat, row, "quiet")
    row["passes"] = passes(seen, repeat)
    with spinning(spinners):
        rounds(contenders, 1)  # let the spinners start
        timed(contenders, repeat, row, "busy")
        row["load_busy"] = os.getloadavg()[0]
    return row


def child(key: str, repeat: int, spinners: int) -> None:
    """Measure one model, print its row as JSON."""
    try:
        row = measure(key, repeat, spinners)
    except BaseException as exc:  # report it as the row
        row = {"key": key, "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(MARK + json.dumps(row) + "\n")
    sys.stdout.flush()
    os._exit(0)  # as run.py: nothing to free


def report(rows: list[dict[str, Any]], repeat: int) -> str:
    lines: list[list[str]] = []
    for r in rows:
        title = r.get("title", r["key"])
        if "error" in r:
            lines.append([title, r["error"]] + ["—"] * 8)
            continue
        for tag in ("quiet", "busy"):
            lines.append(
                [
                    title if tag == "quiet" else "",
                    f"{tag}, load {r[f'load_{tag}']:.1f}",
                    f"{r['grads']} / {r['grad_values'] / 1e6:.2f} M",
                    fmt_s(r[f"gradviz_{tag}"]),
                    fmt_s(r[f"floor_{tag}"]),
                    fmt_ratio(r[f"gradviz_{tag}"], r[f"floor_{tag}"], r[f"ratio_{tag}"]),
                    f"{r['hook_tensors']} / {r['hook_values'] / 1e6:.2f} M",
                    fmt_s(r[f"hooks_{tag}"]),
                    fmt_s(r[f"hooks_floor_{tag}"]),
                    fmt_ratio(r[f"hooks_{tag}"], r[f"hooks_floor_{tag}"], r[f"hooks_ratio_{tag}"]),
                ]
            )
    first = next((r for r in rows if "error" not in r), {})
    ops = [r for r in rows if "passes" in r]
    cost = [
        [
            r.get("title", r["key"]),
            f"{r['passes']['read_tensors']} / {r['passes']['read_values'] / 1e6:.2f} M",
            f"{r['passes']['cancelling']:.0%}",
            *(f"{r['passes'][name]:.2f}" for name in PASSES),
            f"{sum(r['passes'][name] for name in PASSES[:4]):.2f}",
        ]
        for r in ops
    ]
    return (
        "\n".join(
            [
                "#### Gradient summaries, quiet and busy",
                "",
                machine_line(),
                "",
                table(
                    [
                        "model",
                        "machine",
                        "gradients / values",
                        "gradviz",
                        "floor",
                        "gradviz ÷ floor",
                        "hook tensors / values",
                        "hooks",
                        "hooks floor",
                        "hooks ÷ floor",
                    ],
                    lines,
                ),
                "",
                f"Medians of {repeat} alternating rounds, each call after a `gc.collect()`; a "
                "ratio is of the medians, in brackets the median of the per-round ratios. "
                "*gradviz*: `to_dot(build_graph(loss, params=named_parameters))` after "
                "`loss.backward()`. *floor*: the same call with every `.grad` set to None, plus "
                "one `torch.linalg.vector_norm` over each gradient. *hooks*: the summaries the "
                "node hooks of `gradviz run` make in one backward call (replayed); *hooks floor*: "
                "one `vector_norm` over each distinct tensor they are handed. *busy*: "
                f"{first.get('spinners', '?')} processes spinning (`while True: pass`) in the "
                f"benchmark's session, on torch's {first.get('threads', '?')} threads; the load "
                "average is the 1-minute one as each measurement began (quiet) or ended (busy).",
                "",
                "#### What a summary is made of (quiet, one thread)",
                "",
                table(
                    [
                        "model",
                        "tensors / values read",
                        "values that cancel",
                        *(f"`{name}` ÷ norm" for name in PASSES),
                        "four passes ÷ norm",
                    ],
                    cost,
                ),
                "",
                "Each op over every gradient the hooks read (a view of one read counts once), "
                f"median of {repeat} alternating rounds, ÷ one `vector_norm` over the same. "
                "*sum64*: the float64 sum, in chunks, that keeps 4 significant digits of a mean "
                "whose values cancel (it replaces the float32 sum there). *four passes*: "
                "`dot` + `amin` + `amax` + `sum`, the least a summary of these figures costs "
                "with torch's reductions.",
            ]
        )
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="alternating rounds per machine")
    parser.add_argument("--spinners", type=int, default=os.cpu_count() or 1, metavar="N")
    parser.add_argument("--out", metavar="FILE", help="also write the report to FILE")
    parser.add_argument("--only", nargs="+", metavar="KEY", choices=KEYS)
    parser.add_argument("--child", metavar="KEY", choices=KEYS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.repeat, args.spinners)  # never returns
    rows = []
    for key in args.only or KEYS:
        print(f"  {key} …", file=sys.stderr, flush=True)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", key]
        cmd += ["--repeat", str(args.repeat), "--spinners", str(args.spinners)]
        rows.append(child_row(key, cmd, CHILD_TIMEOUT))
    text = report(rows, args.repeat)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
