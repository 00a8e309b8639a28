"""Benchmark gradviz against torchviz on the standard graphs (see ``graphs.py``).

    .venv/bin/python benchmarks/run.py [--quick] [--layout] [--out FILE] [--only KEY ...]

Each graph is measured in a process of its own (``run.py --child KEY``), where gradviz and
torchviz run side by side on the same autograd graph: a crash or a huge allocation in one graph
cannot spoil the others, and the peak RSS is per graph. The parent prints one markdown report.

Safety: freeing a deep autograd graph that Python has walked recurses once per node in C++ and
overflows the default 8 MiB stack (see ../shared/AUTOGRAD-FACTS.md). The parent raises the soft
RLIMIT_STACK before it starts any child (so each child is exec'd with room to grow its stack),
and each child leaves with ``os._exit`` after printing, so no graph is ever freed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from operator import truediv
from pathlib import Path
from statistics import median
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MARK = "@@gradviz-bench@@ "
STACK_BYTES = 4 << 30  # soft RLIMIT_STACK wanted for the children (capped by the hard limit)
CHILD_TIMEOUT = 3600.0
SMALL = 10_000  # graphs with fewer nodes than this are timed in SMALL_ROUNDS times more rounds
SMALL_ROUNDS = 5


# --------------------------------------------------------------------------- helpers


def raise_stack_limit(want: int = STACK_BYTES) -> int:
    """Raise the soft RLIMIT_STACK toward ``want`` (never lower it); return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_STACK, (want, hard))
        soft = want
    return soft


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def best_of_prepared(
    prepare: Callable[[], Any], fn: Callable[[Any], Any], repeat: int
) -> tuple[float, Any]:
    """The best wall time of ``fn(prepare())`` over ``repeat`` runs, not timing ``prepare``."""
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None
        value = prepare()
        gc.collect()
        start = time.perf_counter()
        result = fn(value)
        best = min(best, time.perf_counter() - start)
        del value
    return best, result


def rounds(contenders: dict[str, Callable[[], Any]], repeat: int) -> dict[str, list[float]]:
    """Wall times of each contender over ``repeat`` rounds, in each of which every contender
    runs once, in turn, after a ``gc.collect()``: side by side, so that a slow spell of the
    machine slows all of them, and their ratios hold better than their times."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            gc.collect()
            start = time.perf_counter()
            result = fn()
            times[name].append(time.perf_counter() - start)
            del result
    return times


def floor_walk(out: Any) -> int:
    """The floor: a bare iterative walk over ``next_functions`` with a seen-set; node count."""
    start = out.grad_fn
    if start is None:
        return 1
    seen = {start}  # the set also keeps every wrapper alive, so identity stays unique
    stack = [start]
    while stack:
        fn = stack.pop()
        for child, _ in fn.next_functions:
            if child is not None and child not in seen:
                seen.add(child)
                stack.append(child)
    return len(seen)


def floor_shapes_walk(out: Any) -> int:
    """The floor walk, also reading each op's output shape and dtype as gradviz does by default
    (``_input_metadata``): no tool that shows op shapes can be faster than this."""
    start = out.grad_fn
    if start is None:
        return 1
    seen = {start}
    stack = [start]
    shapes = 0
    while stack:
        fn = stack.pop()
        if not hasattr(fn, "variable"):
            meta = fn._input_metadata
            if len(meta) == 1:
                shapes += len((tuple(meta[0].shape), meta[0].dtype))
        for child, _ in fn.next_functions:
            if child is not None and child not in seen:
                seen.add(child)
                stack.append(child)
    return len(seen)


_DOT_NODE = re.compile(r'^\s*("[^"]*"|[\w.]+)\s*\[', re.MULTILINE)


def dot_nodes(source: str) -> int:
    """Node statements in DOT ``source`` (not the graph/node/edge defaults, not edges)."""
    return sum(1 for m in _DOT_NODE.finditer(source) if m.group(1) not in ("graph", "node", "edge"))


def layout(source: str, timeout: float) -> float | str:
    """Wall seconds of ``dot -Tsvg`` on ``source``, or "timeout" / "error N"."""
    exe = shutil.which("dot")
    if exe is None:
        return "no dot"
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [exe, "-Tsvg"],
            input=source.encode(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return "timeout"
    if proc.returncode != 0:
        return f"error {proc.returncode}"
    return time.perf_counter() - start


# --------------------------------------------------------------------------- one graph


def measure(key: str, repeat: int, do_layout: bool, layout_timeout: float) -> dict[str, Any]:
    """Everything about graph ``key``, measured in this process."""
    warnings.simplefilter("ignore")  # torchviz imports distutils; PyTorch warns on some models
    sys.path.insert(0, str(HERE))
    sys.path.insert(1, str(ROOT))
    import graphs
    from torchviz import make_dot

    from graphviz_autograd import build_graph, to_dot

    row: dict[str, Any] = {"key": key, "title": graphs.GRAPHS[key][0]}
    start = time.perf_counter()
    out, params = graphs.build(key)
    row["make_s"] = time.perf_counter() - start
    row["rss_graph_mb"] = peak_rss_mb()

    nodes = floor_walk(out)
    row["floor_nodes"] = nodes
    if nodes > 300_000:
        repeat = min(repeat, 2)
    elif nodes < SMALL:  # a few ms a round: more rounds, for steadier ratios
        repeat *= SMALL_ROUNDS

    walks = rounds(
        {
            "floor": lambda: floor_walk(out),
            "floor_shapes": lambda: floor_shapes_walk(out),
            "build": lambda: build_graph(out, params=params),
        },
        repeat,
    )
    row["floor_s"], row["floor_shapes_s"] = min(walks["floor"]), min(walks["floor_shapes"])
    row["build_s"] = min(walks["build"])
    row["build_floor_median"] = median(map(truediv, walks["build"], walks["floor"]))
    graph = build_graph(out, params=params)
    # to_dot is timed on fresh graphs: build_graph + to_dot is the whole way to DOT text, and
    # a graph read once before would have made its Node records (to_dot reads rows instead).
    row["to_dot_s"], source = best_of_prepared(
        lambda: build_graph(out, params=params), to_dot, repeat
    )
    row["nodes"], row["edges"] = len(graph.nodes), len(graph.edges)
    row["gradviz_dot_kb"] = len(source.encode()) / 1024
    row["gradviz_dot_nodes"] = dot_nodes(source)
    folded_source = fold_graph(lambda: build_graph(out, params=params), repeat, row)
    del graph
    row["rss_gradviz_mb"] = peak_rss_mb()

    tv_source: str | None = None
    try:  # once first: a failure is a result, and this call warms torchviz up
        tv_source = make_dot(out, params=params).source
        row["torchviz_dot_kb"] = len(tv_source.encode()) / 1024
        row["torchviz_dot_nodes"] = dot_nodes(tv_source)
    except RecursionError:
        row["torchviz_error"] = "RecursionError"
    except Exception as exc:  # any other failure is a result, not a crash of the benchmark
        row["torchviz_error"] = type(exc).__name__
    # The whole way to DOT text for each tool, in alternating rounds.
    contenders = {"gradviz": lambda: to_dot(build_graph(out, params=params))}
    if tv_source is not None:
        contenders["torchviz"] = lambda: make_dot(out, params=params).source
        # and gradviz showing what torchviz shows: no op output shapes
        contenders["plain"] = lambda: to_dot(build_graph(out, params=params, op_shapes=False))
    totals = rounds(contenders, repeat)
    row["total_s"] = min(totals["gradviz"])
    if tv_source is not None:
        row["torchviz_s"] = min(totals["torchviz"])
        row["torchviz_median"] = median(map(truediv, totals["torchviz"], totals["gradviz"]))
        row["plain_s"] = min(totals["plain"])
        row["plain_median"] = median(map(truediv, totals["torchviz"], totals["plain"]))
    row["rss_torchviz_mb"] = peak_rss_mb()

    # Memory of the model: Python allocations kept by the Graph, and the peak while walking.
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    graph = build_graph(out, params=params)
    graph.nodes  # noqa: B018  (the records are made when first read: count them)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    row["model_b_per_node"] = (current - base) / len(graph.nodes)
    row["walk_peak_b_per_node"] = (peak - base) / len(graph.nodes)
    del graph

    if do_layout:
        row["layout_timeout"] = layout_timeout
        row["gradviz_layout"] = layout(source, layout_timeout)
        if folded_source is not None:
            row["folded_layout"] = layout(folded_source, layout_timeout)
        if tv_source is not None:
            row["torchviz_layout"] = layout(tv_source, layout_timeout)
    return row


def fold_graph(make: Callable[[], Any], repeat: int, row: dict[str, Any]) -> str | None:
    """Time folding a fresh graph from ``make`` for a picture (the default node budget), and
    the DOT of a freshly folded one, as `render` and `gradviz run` do; the DOT.

    Returns None, recording nothing, when this gradviz has no folding (`transform.fold`, or
    `fold` before the stage packages).
    """
    try:
        from graphviz_autograd.transform.fold import DEFAULT_MAX_NODES, fold
    except ImportError:
        try:
            from graphviz_autograd.fold import DEFAULT_MAX_NODES, fold  # type: ignore[no-redef]
        except ImportError:
            return None
    from graphviz_autograd import to_dot

    def fold_default(graph: Any) -> Any:
        return fold(graph, max_nodes=DEFAULT_MAX_NODES)

    row["max_nodes"] = DEFAULT_MAX_NODES
    row["fold_s"], folded = best_of_prepared(make, fold_default, repeat)
    row["folded_nodes"] = len(folded)
    row["folded_to_dot_s"], source = best_of_prepared(lambda: fold_default(make()), to_dot, repeat)
    return str(source)


def child(key: str, repeat: int, do_layout: bool, layout_timeout: float) -> None:
    """Measure one graph, print its row as JSON, and leave without freeing the graph."""
    raise_stack_limit()  # in case we were started by hand; the parent already did it
    try:
        row = measure(key, repeat, do_layout, layout_timeout)
    except BaseException as exc:  # report, then leave the same way
        row = {"key": key, "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(MARK + json.dumps(row) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # never free a deep graph: see the module docstring


# --------------------------------------------------------------------------- the report


def _pkg(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    dot = "not installed"
    exe = shutil.which("dot")
    if exe:
        proc = subprocess.run([exe, "-V"], capture_output=True, text=True)
        found = re.search(r"version\s+(\S+)", proc.stderr + proc.stdout)
        dot = found.group(1) if found else "unknown"
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024**2:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    rev = ""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "graphviz_autograd"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if head:
            rev = f" (git {head}{' + uncommitted changes' if dirty else ''})"
    except OSError:
        pass
    return (
        f"Machine: {cpu}, {os.cpu_count()} cores{mem}, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, torch {_pkg('torch')}, "
        f"Graphviz dot {dot}, graphviz (Python) {_pkg('graphviz')}, torchviz "
        f"{_pkg('torchviz')}, gradviz {_pkg('gradviz')}{rev}. "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average "
        f"{os.getloadavg()[0]:.1f} at the end."
    )


def fmt_s(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "—"
    if value >= 1:
        return f"{value:.2f} s"
    ms = value * 1e3
    return f"{ms:.3g} ms" if ms >= 0.1 else f"{ms:.2g} ms"


def fmt_ratio(num: Any, den: Any, median_ratio: float | None = None) -> str:
    """``num / den``, and in brackets the median of the per-round ratios when given."""
    if not isinstance(num, float) or not isinstance(den, float) or den <= 0:
        return "—"
    text = f"{num / den:.1f}×"
    return text if median_ratio is None else f"{text} ({median_ratio:.1f}×)"


def table(header: list[str], rows: list[list[str]]) -> str:
    right = [i > 0 for i in range(len(header))]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if r else "---" for r in right) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def report(rows: list[dict[str, Any]], do_layout: bool, layout_timeout: float, runs: int) -> str:
    main: list[list[str]] = []
    memory: list[list[str]] = []
    dots: list[list[str]] = []
    folds: list[list[str]] = []
    ceilings: list[list[str]] = []
    max_nodes = 0
    notes: list[str] = []
    for r in rows:
        title = r.get("title", r["key"])
        if "error" in r:
            main.append([title, r["error"]] + ["—"] * 7)
            continue
        total = r["total_s"]
        tv = r.get("torchviz_s", r.get("torchviz_error"))
        if r["nodes"] != r["floor_nodes"]:
            notes.append(f"{title}: floor walk saw {r['floor_nodes']:,} nodes.")
        main.append(
            [
                title,
                f"{r['nodes']:,}",
                fmt_s(r["floor_s"]),
                fmt_s(r["build_s"]),
                fmt_s(r["to_dot_s"]),
                fmt_s(total),
                fmt_s(tv),
                fmt_ratio(r.get("torchviz_s"), total, r.get("torchviz_median")),
                fmt_ratio(r["build_s"], r["floor_s"], r["build_floor_median"]),
            ]
        )
        if "torchviz_s" in r:
            ceilings.append(
                [
                    title,
                    fmt_s(r["floor_s"]),
                    fmt_s(r["floor_shapes_s"]),
                    fmt_s(r["torchviz_s"]),
                    fmt_ratio(r["torchviz_s"], r["floor_shapes_s"]),
                    fmt_ratio(r["torchviz_s"], total, r.get("torchviz_median")),
                    fmt_s(r.get("plain_s")),
                    fmt_ratio(r["torchviz_s"], r.get("plain_s"), r.get("plain_median")),
                ]
            )
        memory.append(
            [
                title,
                f"{r['model_b_per_node']:,.0f}",
                f"{r['walk_peak_b_per_node']:,.0f}",
                f"{r['rss_graph_mb']:,.0f}",
                f"{r['rss_gradviz_mb']:,.0f}",
                f"{r['rss_torchviz_mb']:,.0f}",
            ]
        )
        tv_kb = r.get("torchviz_dot_kb")
        line = [
            title,
            f"{r['gradviz_dot_nodes']:,}",
            f"{r['gradviz_dot_kb']:,.0f}",
            "—" if tv_kb is None else f"{r['torchviz_dot_nodes']:,}",
            "—" if tv_kb is None else f"{tv_kb:,.0f}",
        ]
        if do_layout:
            line += [
                fmt_s(r.get("gradviz_layout")),
                fmt_s(r.get("torchviz_layout", r.get("torchviz_error"))),
            ]
        dots.append(line)
        if "fold_s" in r:
            max_nodes = r["max_nodes"]
            folds.append(
                [
                    title,
                    f"{r['nodes']:,}",
                    f"{r['folded_nodes']:,}",
                    fmt_s(r["fold_s"]),
                    fmt_s(r["folded_to_dot_s"]),
                    fmt_s(r["build_s"] + r["fold_s"] + r["folded_to_dot_s"]),
                ]
                + ([fmt_s(r.get("folded_layout"))] if do_layout else [])
            )

    parts = [
        "### gradviz vs torchviz: walk and DOT",
        "",
        machine_line(),
        "",
        table(
            [
                "graph",
                "nodes",
                "floor walk",
                "gradviz build_graph",
                "gradviz to_dot",
                "gradviz total",
                "torchviz make_dot().source",
                "torchviz ÷ gradviz",
                "build ÷ floor",
            ],
            main,
        ),
        "",
        f"Best of {runs} runs ({runs * SMALL_ROUNDS} under {SMALL:,} nodes, 2 past 300k). "
        "*floor walk*: a bare iterative `next_functions` walk with a seen-set. "
        "*gradviz total*: `to_dot(build_graph(...))`, the whole way to DOT text (`to_dot` reads "
        "the walked graph's rows; ops alike share one `Node` record). The floor walks and "
        "`build_graph`, and then the two tools' totals, are timed in alternating rounds, each "
        "call after a `gc.collect()` (cold CPU caches, as in a first call), and after one "
        "warm-up call of each tool (gradviz keeps what it learnt of op types, shapes and ids "
        "across calls, as on any call after a process's first): the times are the best round, "
        "and a ratio in brackets is the median of the per-round ratios. Both tools get the same "
        "`params`.",
    ]
    if notes:
        parts += ["", *notes]
    if ceilings:
        parts += [
            "",
            "### What reading op output shapes costs",
            "",
            table(
                [
                    "graph",
                    "floor walk",
                    "floor walk + op shapes",
                    "torchviz",
                    "torchviz ÷ (floor + op shapes)",
                    "torchviz ÷ gradviz",
                    "gradviz total, op_shapes=False",
                    "torchviz ÷ gradviz, op_shapes=False",
                ],
                ceilings,
            ),
            "",
            "gradviz reads each op's output shape and dtype by default (up to "
            "50,000 nodes; torchviz shows none). *floor walk + op shapes* is the bare walk that "
            "also reads them through `_input_metadata`: the fastest any tool showing op shapes "
            "could be, so *torchviz ÷ (floor + op shapes)* bounds *torchviz ÷ gradviz*. "
            "*op_shapes=False*: `to_dot(build_graph(..., op_shapes=False))`, which shows what "
            "torchviz shows (op names, leaf names and shapes), timed in the same rounds as the "
            "two tools' totals.",
        ]
    parts += [
        "",
        "### Memory",
        "",
        table(
            [
                "graph",
                "model B/node",
                "build_graph peak B/node",
                "RSS after torch graph (MiB)",
                "peak RSS after gradviz (MiB)",
                "peak RSS after torchviz (MiB)",
            ],
            memory,
        ),
        "",
        "*model B/node*: Python memory (tracemalloc) the returned `Graph` keeps once its "
        "records are read, per node; "
        "*peak*: the most tracemalloc saw during `build_graph`. RSS is `ru_maxrss` of the "
        "process measuring that graph; it includes torch itself (see the first RSS column).",
        "",
        "### DOT" + (" and layout" if do_layout else ""),
        "",
        table(
            [
                "graph",
                "gradviz DOT nodes",
                "gradviz DOT KiB",
                "torchviz DOT nodes",
                "torchviz DOT KiB",
            ]
            + (
                [
                    f"gradviz dot -Tsvg (timeout {layout_timeout:g} s)",
                    f"torchviz dot -Tsvg (timeout {layout_timeout:g} s)",
                ]
                if do_layout
                else []
            ),
            dots,
        ),
    ]
    if folds:
        parts += [
            "",
            "### gradviz pictures: folded to the default node budget "
            f"({max_nodes:,}) before layout",
            "",
            table(
                [
                    "graph",
                    "nodes",
                    "folded nodes",
                    "fold",
                    "to_dot (folded)",
                    "build + fold + to_dot",
                ]
                + ([f"dot -Tsvg (timeout {layout_timeout:g} s)"] if do_layout else []),
                folds,
            ),
            "",
            "What `gradviz run -o x.svg` and `render(..., 'x.svg')` lay out: "
            "`fold(graph, max_nodes=DEFAULT_MAX_NODES)`; a graph within the budget is unchanged. "
            "Both timed on fresh graphs from `build_graph`, as those commands meet them.",
        ]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- driver


def run_child(key: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", key]
    cmd += ["--repeat", str(args.repeat), "--layout-timeout", str(args.layout_timeout)]
    if args.layout:
        cmd.append("--layout")
    return child_row(key, cmd, CHILD_TIMEOUT)


def child_row(key: str, cmd: list[str], timeout: float) -> dict[str, Any]:
    """Run the child process ``cmd`` for graph ``key`` and return the row it printed after
    `MARK`, or a row with the error (timeout, crash, no result)."""
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"key": key, "error": f"timeout ({timeout:g} s)"}
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return dict(json.loads(line[len(MARK) :]))
    if proc.returncode < 0:
        import signal

        return {"key": key, "error": f"crashed ({signal.Signals(-proc.returncode).name})"}
    return {"key": key, "error": f"exit {proc.returncode}, no result"}


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE))
    from graphs import GRAPHS, QUICK

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1e5/1e6 chains, 2 runs")
    parser.add_argument("--layout", action="store_true", help="also time dot -Tsvg")
    parser.add_argument("--layout-timeout", type=float, default=60.0, metavar="S")
    parser.add_argument("--out", metavar="FILE", help="also write the report to FILE")
    parser.add_argument("--only", nargs="+", metavar="KEY", choices=list(GRAPHS))
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (best is kept)")
    parser.add_argument("--child", metavar="KEY", choices=list(GRAPHS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        child(args.child, args.repeat, args.layout, args.layout_timeout)  # never returns
    if args.quick:
        args.repeat = min(args.repeat, 2)
    keys = args.only or list(QUICK if args.quick else GRAPHS)

    soft = raise_stack_limit()  # inherited by every child at exec
    print(f"RLIMIT_STACK soft limit for the children: {soft / 2**20:,.0f} MiB", file=sys.stderr)
    rows = []
    for key in keys:
        start = time.monotonic()
        print(f"  {key} …", end="", file=sys.stderr, flush=True)
        row = run_child(key, args)
        note = f" {row['error']}" if "error" in row else ""
        print(f" {time.monotonic() - start:.1f} s{note}", file=sys.stderr, flush=True)
        rows.append(row)
    text = report(rows, args.layout, args.layout_timeout, args.repeat)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
