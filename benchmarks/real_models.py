"""Real models after backward: gradviz next to torchviz, and the `gradviz` command to SVG.

    .venv/bin/python benchmarks/real_models.py [--repeat 9] [--timeout 60] [--plain] [--only KEY]

For each model of ``models.py`` (ResNet-18, a small ViT, GPT-2, BERT and Llama from transformers
configs, nn.GRU and nn.LSTM over 50 steps, DenseNet-style blocks, a 4-layer MLP), in a process of
its own (``real_models.py --child KEY``): build the model, call ``backward()``, then time in
alternating rounds, each call after a ``gc.collect()``:

- *gradviz*: ``to_dot(build_graph(loss, params=params))``, every gradient summarised;
- *torchviz*: ``make_dot(loss, params=params).source``;
- *floor*: the same gradviz call with every ``.grad`` set to None, plus one
  ``torch.linalg.vector_norm`` over each gradient: the least a tool that reads every gradient
  once and draws the graph can cost;

then gradviz and the floor again with ``torch.set_num_threads(1)``.

Then, with default options, ``gradviz run make_graph.py -o KEY.svg -- KEY``: wall time, exit code
and what gradviz said (its last stderr line), each command killed with every process it started
(its `dot` too) after ``--timeout`` seconds; with ``--plain``, ``python make_graph.py KEY`` alone
too, for scale. Needs the bench extra (torchviz, transformers) and `dot`. About 8 minutes on 2
busy cores (12 with ``--plain``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from operator import truediv
from pathlib import Path
from statistics import median
from typing import Any

from clitools import HERE, fmt_mb, gradviz_exe, run, stack_limit
from run import MARK, ROOT, child_row, fmt_ratio, fmt_s, machine_line, rounds, table

CHILD_TIMEOUT = 600.0


def floor_call(loss: Any, params: dict[str, Any]) -> Callable[[], list[float]]:
    """The floor of ``to_dot(build_graph(loss, params=params))`` after backward: the same call
    with every ``.grad`` set to None, plus one ``torch.linalg.vector_norm`` over each gradient."""
    import torch

    from graphviz_autograd import build_graph, to_dot

    with_grad = [p for p in params.values() if p.grad is not None]
    grads = [p.grad for p in with_grad]

    def floor() -> list[float]:
        for p in with_grad:
            p.grad = None
        try:
            to_dot(build_graph(loss, params=params))
        finally:
            for p, g in zip(with_grad, grads, strict=True):
                p.grad = g
        return [float(torch.linalg.vector_norm(g)) for g in grads]

    return floor


def measure(key: str, repeat: int) -> dict[str, Any]:
    """Graph size and the three contenders' times for model ``key``, in this process."""
    warnings.simplefilter("ignore")  # torchviz imports distutils; transformers warns
    sys.path.insert(0, str(ROOT))
    import models
    import torch
    from torchviz import make_dot

    from graphviz_autograd import build_graph, to_dot

    loss, params = models.build(key)
    loss.backward()
    grads = [p.grad for p in params.values() if p.grad is not None]
    floor = floor_call(loss, params)
    graph = build_graph(loss, params=params)
    row: dict[str, Any] = {
        "key": key,
        "title": models.MODELS[key][0],
        "nodes": len(graph.nodes),
        "edges": len(graph.edges),
        "grads": len(grads),
        "grad_values": sum(g.numel() for g in grads),
    }
    del graph
    make_dot(loss, params=params)  # warm both tools up once
    totals = rounds(
        {
            "gradviz": lambda: to_dot(build_graph(loss, params=params)),
            "torchviz": lambda: make_dot(loss, params=params).source,
            "floor": floor,
        },
        repeat,
    )
    for name, times in totals.items():
        row[f"{name}_s"] = min(times)
    row["torchviz_median"] = median(map(truediv, totals["torchviz"], totals["gradviz"]))
    row["floor_median"] = median(map(truediv, totals["gradviz"], totals["floor"]))
    # Again on one thread: on a busy machine each parallel reduction (sum, aminmax, dot) waits
    # for a descheduled worker thread, while vector_norm's full 2-norm runs on one thread.
    row["threads"] = torch.get_num_threads()
    torch.set_num_threads(1)
    single = rounds(
        {"gradviz": lambda: to_dot(build_graph(loss, params=params)), "floor": floor}, repeat
    )
    row["gradviz_1t_s"], row["floor_1t_s"] = min(single["gradviz"]), min(single["floor"])
    row["floor_1t_median"] = median(map(truediv, single["gradviz"], single["floor"]))
    return row


def child(key: str, repeat: int) -> None:
    """Measure one model, print its row as JSON."""
    try:
        row = measure(key, repeat)
    except BaseException as exc:  # report it as the row
        row = {"key": key, "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(MARK + json.dumps(row) + "\n")
    sys.stdout.flush()
    os._exit(0)  # as run.py: nothing to free


def run_child(key: str, repeat: int) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", key, "--repeat", str(repeat)]
    return child_row(key, cmd, CHILD_TIMEOUT)


def cli(key: str, timeout: float, tmp: Path, plain: bool) -> dict[str, Any]:
    """``gradviz run make_graph.py -o KEY.svg -- KEY`` with default options, and with ``plain``
    the script alone under ``python``."""
    script = str(HERE / "make_graph.py")
    svg = tmp / f"{key}.svg"
    alone = run([sys.executable, script, key], timeout=timeout) if plain else None
    result = run([gradviz_exe(), "run", script, "-o", str(svg), "--", key], timeout=timeout)
    return {
        "cli_wall_s": result.wall_s,
        "cli_exit": result.exit,
        "cli_left": result.left_running,
        "cli_svg_kb": svg.stat().st_size / 1024 if svg.exists() else None,
        "cli_rss_mb": result.peak_rss_mb,
        "cli_said": result.stderr_tail.split(" / ")[-1].replace(f"{tmp}/", ""),
        "plain_s": None if alone is None else alone.wall_s if alone.ok else alone.exit,
    }


def report(rows: list[dict[str, Any]], repeat: int, timeout: float) -> str:
    speed: list[list[str]] = []
    clis: list[list[str]] = []
    for r in rows:
        title = r.get("title", r["key"])
        if "error" in r:
            speed.append([title, r["error"]] + ["—"] * 10)
        else:
            speed.append(
                [
                    title,
                    f"{r['nodes']:,}",
                    f"{r['grads']} / {r['grad_values'] / 1e6:.2f} M",
                    fmt_s(r["gradviz_s"]),
                    fmt_s(r["torchviz_s"]),
                    fmt_ratio(r["torchviz_s"], r["gradviz_s"], r["torchviz_median"]),
                    fmt_s(r["floor_s"]),
                    fmt_ratio(r["gradviz_s"], r["floor_s"], r["floor_median"]),
                    fmt_s(r["gradviz_1t_s"]),
                    fmt_s(r["floor_1t_s"]),
                    fmt_ratio(r["gradviz_1t_s"], r["floor_1t_s"], r["floor_1t_median"]),
                ]
            )
        if "cli_exit" in r:
            kb = r["cli_svg_kb"]
            clis.append(
                [
                    title,
                    fmt_s(r["cli_wall_s"]),
                    r["cli_exit"],
                    "—" if kb is None else f"{kb:,.0f} KiB",
                    fmt_mb(r["cli_rss_mb"]),
                    ", ".join(r["cli_left"]) or "none",
                    fmt_s(r["plain_s"]),
                    r["cli_said"].replace("|", "\\|"),
                ]
            )
    parts = [
        "#### After backward: gradviz vs torchviz, and the floor",
        "",
        machine_line(),
        "",
        table(
            [
                "model",
                "nodes",
                "gradients / values",
                "gradviz",
                "torchviz",
                "torchviz ÷ gradviz",
                "floor",
                "gradviz ÷ floor",
                "gradviz, 1 thread",
                "floor, 1 thread",
                "gradviz ÷ floor, 1 thread",
            ],
            speed,
        ),
        "",
        f"Best of {repeat} alternating rounds, each call after a `gc.collect()`; in brackets the "
        "median of the per-round ratios. *gradviz*: `to_dot(build_graph(loss, "
        "params=named_parameters))` after `loss.backward()`, every gradient summarised (norm, "
        "min, max, mean, NaN/Inf). *torchviz*: `make_dot(loss, params=...).source`. *floor*: "
        "the gradviz call with every `.grad` set to None, plus one `torch.linalg.vector_norm` "
        "over each gradient. The first columns run on torch's default threads "
        f"({rows[0].get('threads', '?')} here), the last three on one "
        "(`torch.set_num_threads(1)`, same rounds after): on a busy machine each of torch's "
        "parallel reductions (`sum`, `aminmax`, `dot`) can wait a scheduler slice for its "
        "second thread, while `vector_norm`'s full 2-norm runs on one thread.",
    ]
    if clis:
        parts += [
            "",
            f"#### `gradviz run make_graph.py -o KEY.svg -- KEY`, default options "
            f"(timeout {timeout:g} s)",
            "",
            table(
                [
                    "model",
                    "wall",
                    "exit",
                    "SVG",
                    "peak RSS",
                    "left running after",
                    "`python make_graph.py KEY` alone",
                    "gradviz said (last line)",
                ],
                clis,
            ),
            "",
            "Each command runs in its own session and is killed, with every process it started, "
            "at the timeout; *left running after* lists any of its processes still alive once "
            f"it ended. RLIMIT_STACK of the commands: {stack_limit()}.",
        ]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE))
    from models import MODELS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=9, help="alternating rounds per model")
    parser.add_argument("--timeout", type=float, default=60.0, help="per command, seconds")
    parser.add_argument("--no-cli", action="store_true", help="skip the gradviz run table")
    parser.add_argument("--plain", action="store_true", help="also time python make_graph.py")
    parser.add_argument("--out", metavar="FILE", help="also write the report to FILE")
    parser.add_argument("--only", nargs="+", metavar="KEY", choices=list(MODELS))
    parser.add_argument("--child", metavar="KEY", choices=list(MODELS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.repeat)  # never returns

    tmp = Path(tempfile.mkdtemp(prefix="gradviz-models-"))
    rows = []
    for key in args.only or list(MODELS):
        start = time.monotonic()
        print(f"  {key} …", end="", file=sys.stderr, flush=True)
        row = run_child(key, args.repeat)
        if not args.no_cli:
            row.update(cli(key, args.timeout, tmp, args.plain))
        print(f" {time.monotonic() - start:.1f} s", file=sys.stderr, flush=True)
        rows.append(row)
        gc.collect()
    text = report(rows, args.repeat, args.timeout)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    for svg in tmp.iterdir():
        svg.unlink()
    tmp.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
