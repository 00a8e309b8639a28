"""Render a fixed corpus of gradviz outputs and compare their sha256 hashes with a record,
so that a refactor can prove that no output byte changed, and any change can see what it changes.

    python scripts/corpus.py               # check: a line per changed/missing/new item; exit 1
    python scripts/corpus.py --keep DIR    # ... keeping the rendered (normalised) files in DIR
    python scripts/corpus.py --only mlp    # only the items whose names contain "mlp"
    python scripts/corpus.py --record      # write scripts/corpus.sha256

When a change is meant to change output, run ``--keep DIR`` before and after it, diff the two
folders and review every difference; then ``--record`` and commit scripts/corpus.sha256 with
the change. Re-record, after the same review, when torch, rich or Graphviz change version:
their output is in the corpus. ``--record --only X`` re-records the matching items only.

The corpus: the samples through the ``gradviz`` command (`COMMANDS`: item ``X.log`` holds a
command's exit code, stdout and stderr; each file it writes is an item); the benchmark graphs
through the Python API (`VIEWS`, `CAPTURED_VIEWS`); training steps under ``capture()``,
``make_dot``, ``render``, hostile names, SVGs. Only stable entry points are used, so that
modules can move: the names ``graphviz_autograd`` exports, ``python -m graphviz_autograd``.
The checkout this file is in is the one tested (`check_checkout`). Torch runs on one thread,
here and in the commands, so that sums do not depend on thread scheduling.

Normalised before hashing (otherwise the raw bytes are hashed): in every item, the paths that
differ between checkouts and runs (`normalise`); in ``.log`` items, the wall-clock time of a
write (`TIMING`): ``wrote <OUT>/run.dot (5 nodes, 4 edges, 0.1 s)`` ends ``<T> s)``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import types
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Final

STARTED: Final = time.monotonic()
REPO: Final = Path(__file__).resolve().parent.parent
RECORD: Final = REPO / "scripts" / "corpus.sha256"
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]
os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # before torch loads

import graphs  # noqa: E402 (benchmarks/graphs.py: the seeded benchmark graphs)
import torch  # noqa: E402, TID251
from rich.console import Console  # noqa: E402, TID251
from torch import nn  # noqa: E402, TID251

import graphviz_autograd as gv  # noqa: E402 (its top-level names only: modules move)

Items = dict[str, bytes]  # item name -> its bytes, normalised

TIMING: Final = re.compile(rb"(?<=, )\d+\.\d s(?=[;)])")  # in "wrote PATH (..., 0.1 s)"

# The commands' environment: this checkout first on the path, no colours, a fixed width.
ENV: Final = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")} | {
    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    "COLUMNS": "100",  # rich's width for stderr, which is not a terminal here
    "PYTHONIOENCODING": "utf-8",
}

COMMANDS: Final = """
[*]
run.dot           run -o {out}/run.dot
run.json          run -o {out}/run.json
run.mmd           run -o {out}/run.mmd
run.html          run -o {out}/run.html
tree              run -f tree
doctor            doctor
doctor-json       doctor -f json
[accumulate.py]
call-all.dot      run --call all -o {out}/call-all.dot
call-last.json    run --call last -o {out}/call-last.json
call-9.dot        run --call 9 -o {out}/call-9.dot
call-0            run --call 0 -o {out}/call-0.dot
var-loss.dot      run --var loss -o {out}/var-loss.dot
doctor-all        doctor --call all
tree-last         tree --call last
[checkpoint.py]
call-1.1.dot      run --call 1.1 -o {out}/call-1.1.dot
call-all.json     run --call all -o {out}/call-all.json
plain.dot         run -o {out}/plain.dot -- --no-reentrant
[retain_graph.py]
call-all.dot      run --call all -o {out}/call-all.dot
call-last-stdout  run --call last -f json -o -
[linear_regression.py]
call-50-tree      run --call 50 -f tree
[mlp.py]
saved-attrs.dot   run --show-saved --show-attrs -o {out}/saved-attrs.dot
inputs-full.dot   run --show-inputs --labels full -o {out}/inputs-full.dot
lr.dot            run --rankdir LR --show-order --edge-grads -o {out}/lr.dot
depth-1.dot       run --depth 1 -o {out}/depth-1.dot
fold-5.dot        run --max-nodes 5 -o {out}/fold-5.dot
plain.json        run --no-source --no-modules --no-op-shapes -o {out}/plain.json
var-pred-stdout   run --var pred -f mermaid -o -
var-nope.dot      run --var nope -o {out}/var-nope.dot
bad-suffix        run -o {out}/run.xyz
tree-full         tree --labels full --show-saved
run.svg           run -o {out}/run.svg
[exp_square.py]
run.svg           run -o {out}/run.svg
stdout            run -o -
[gradient_flow.py]
fold-8-tree       run --max-nodes 8 -f tree
depth-1.mmd       run --depth 1 -o {out}/depth-1.mmd
[pitfalls/nan_grad.py]
doctor-file       doctor -o {out}/doctor.json
[pitfalls/backward_twice.py]
doctor-last-json  doctor --call last -f json
call-all.dot      run --call all -o {out}/call-all.dot
[missing.py]
run.dot           run -o {out}/run.dot
[diff]
train             diff {in}/train-1.json {in}/train-2.json -o {out}/train.json -o {out}/train.dot
train-svg         diff {in}/train-1.json {in}/train-2.json -o {out}/train.svg
same              diff {in}/train-1.json {in}/train-1.json
tf                diff {in}/transformer-2.json {in}/transformer-6.json -o {out}/tf.json
tf-dot-stdout     diff {in}/transformer-2.json {in}/transformer-6.json -o {out}/tf.dot -o -
accumulate        diff samples/accumulate.py --calls 1 3 -o {out}/accumulate.json
two-scripts       diff samples/mlp.py samples/pitfalls/frozen.py -o {out}/two-scripts.json
"""
"""The commands: under ``[sample]`` (``[*]``: every sample), a label and a command a line; the
sample's path goes after the command's first word. ``{out}`` is the command's own folder,
``{in}`` the folder of the graphs `diff_inputs` writes. ``[diff]``: no sample."""


def commands() -> dict[str, tuple[str, ...]]:
    """The commands of `COMMANDS`: label -> arguments."""
    paths = sorted([*REPO.glob("samples/*.py"), *REPO.glob("samples/pitfalls/*.py")])
    samples = [path.relative_to(REPO / "samples").as_posix() for path in paths]
    out: dict[str, tuple[str, ...]] = {}
    section = "*"
    for line in COMMANDS.strip().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
            continue
        label, command = line.split(maxsplit=1)
        first, *rest = shlex.split(command)
        if section == "diff":
            out[f"diff/{label}"] = (first, *rest)
            continue
        for name in samples if section == "*" else [section]:
            out[f"sample/{name}/{label}"] = (first, f"samples/{name}", *rest)
    return out


def normalise(data: bytes, root: Path, out: Path | None = None) -> bytes:
    """``data`` with the paths that differ between checkouts and runs as placeholders."""
    paths = {str(out): "<OUT>"} if out else {}  # the most specific first
    paths |= {str(root): "<TMP>", sys.prefix: "<VENV>", str(REPO): "<REPO>"}
    for path, placeholder in paths.items():
        data = data.replace(path.encode(), placeholder.encode())
    return data


def run_command(label: str, argv: tuple[str, ...], root: Path) -> Items:
    """Run a command in the checkout's root: item ``label.log`` is its exit code, stdout and
    stderr; a file it writes into ``{out}`` is item ``<label's folder>/<file name>``."""
    out = root / "out" / label.replace("/", "__")
    out.mkdir(parents=True)
    args = [a.replace("{out}", str(out)).replace("{in}", str(root / "in")) for a in argv]
    command = [sys.executable, "-m", "graphviz_autograd", *args]
    proc = subprocess.run(command, input=b"", cwd=REPO, env=ENV, capture_output=True, timeout=600)
    log = b"exit %d\n--- stdout\n%s--- stderr\n%s" % (proc.returncode, proc.stdout, proc.stderr)
    items = {f"{label}.log": TIMING.sub(b"<T> s", normalise(log, root, out))}
    folder = label.rpartition("/")[0]
    for path in sorted(out.iterdir()):
        items[f"{folder}/{path.name}"] = normalise(path.read_bytes(), root, out)
    return items


VIEWS: Final[dict[str, tuple[dict[str, Any], dict[str, Any]]]] = {
    "default": ({}, {}),
    "no-op-shapes": ({"op_shapes": False}, {}),
    "saved-attrs": ({"show_saved": True, "show_attrs": True}, {"labels": "attrs"}),
    "inputs-full": ({"show_inputs": True}, {"labels": "full"}),
    "lr-order": ({}, {"rankdir": "LR", "show_order": True}),
    "fold-50": ({}, {"max_nodes": 50}),
}
"""How each benchmark graph is drawn: view -> (`build_graph` options, drawing options)."""

CAPTURED_VIEWS: Final[dict[str, dict[str, Any]]] = {
    "captured": {},
    "captured-depth-1": {"depth": 1},
    "captured-edge-grads": {"edge_grads": True, "labels": "full"},
    "captured-fold-30": {"max_nodes": 30},
}
"""How each benchmark graph that ``capture(modules=True)`` recorded is drawn."""

# The benchmark graphs of at most ~20k nodes (wide-10k has 20,002), and those also drawn as SVG.
BENCHMARKS: Final = [key for key in graphs.GRAPHS if key not in ("chain-1e5", "chain-1e6")]
SVG_VIEWS: Final = (("mlp", "default"), ("doubling-40", "default"), ("transformer-2", "fold-50"))


def formats(name: str, graph: gv.Graph, options: Mapping[str, Any]) -> Items:
    """``graph`` as DOT, JSON, Mermaid, tree text and explorer HTML: ``name.<suffix>``."""
    console = Console(width=100, color_system=None, force_terminal=False, file=io.StringIO())
    with console.capture() as tree:
        gv.print_tree(graph, console=console, **options)
    return {
        f"{name}.dot": gv.to_dot(graph, **options).encode(),
        f"{name}.json": gv.to_json(graph, **options).encode(),
        f"{name}.mmd": gv.to_mermaid(graph, **options).encode(),
        f"{name}.tree.txt": tree.get().encode(),
        f"{name}.html": gv.explore(graph, **options).html.encode(),
    }


def benchmark_items(key: str, root: Path) -> Items:
    """Benchmark graph ``key`` in every view, in every text format; then as `capture` records
    it around its backward, with modules."""
    output, params = graphs.build(key)
    items: Items = {}
    for view, (walk, options) in VIEWS.items():
        graph = gv.build_graph(output, params=params, **walk)
        items |= formats(f"api/{key}/{view}", graph, options)
        if (key, view) in SVG_VIEWS:
            items[f"api/{key}/{view}.svg"] = gv.to_svg(graph, **options).encode()
    built: list[graphs.Built] = []
    with gv.capture(modules=True, params=lambda: built[0][1] or {}) as cap:
        built.append(graphs.build(key))
        built[0][0].backward()  # type: ignore[no-untyped-call]
    for view, options in CAPTURED_VIEWS.items():
        items |= formats(f"api/{key}/{view}", cap.graph, options)
    return items


def train_items(root: Path) -> Items:
    """The graphs of two SGD steps of a small MLP, as `capture` records them."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    with gv.capture(modules=True, params=dict(model.named_parameters())) as cap:
        for _ in range(2):
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()  # type: ignore[no-untyped-call]
            optimizer.step()
    items: Items = {}
    for call in cap.calls:
        items[f"api/train-step/call-{call.name}.dot"] = gv.to_dot(call.graph).encode()
        items[f"api/train-step/call-{call.name}.json"] = gv.to_json(call.graph).encode()
    return items


HOSTILE: Final = '<script>alert("x")</script>{}[]\'"\\&amp;|;'  # for HTML, DOT, JSON, Mermaid


def _double(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
    return tensor * 2


def hostile_items(root: Path) -> Items:
    """A custom autograd.Function, an output and a parameter, named with `HOSTILE`."""
    body = {"forward": staticmethod(_double), "backward": staticmethod(_double)}
    name, bases = f"Op{HOSTILE}", (torch.autograd.Function,)
    op: Any = types.new_class(name, bases, {}, lambda namespace: namespace.update(body))
    torch.manual_seed(0)
    weight = torch.randn(3, requires_grad=True)
    outputs = {f"out{HOSTILE}": op.apply(weight).sum()}
    graph = gv.build_graph(outputs, params={f"w{HOSTILE}": weight})
    items = formats("api/hostile/default", graph, {})
    return items | {"api/hostile/default.svg": gv.to_svg(graph).encode()}


def entry_point_items(root: Path) -> Items:
    """`make_dot`'s DOT (torchviz's signature); `render` to a file of each kind, and the DOT of
    the `Rendering` it returns without a file."""
    mlp, mlp_params = graphs.build("mlp")
    transformer, transformer_params = graphs.build("transformer-2")
    saved = gv.make_dot(mlp, mlp_params, show_attrs=True, show_saved=True, max_attr_chars=10)
    folded = gv.make_dot(transformer, transformer_params, max_nodes=50)
    items = {
        "api/make_dot/mlp.dot": gv.make_dot(mlp, mlp_params).source.encode(),
        "api/make_dot/mlp-saved-attrs.dot": saved.source.encode(),
        "api/make_dot/transformer-2-fold-50.dot": folded.source.encode(),
    }
    output, params = graphs.build("cnn-bn")
    rendering = gv.render(output, params=params, rankdir="LR")
    assert isinstance(rendering, gv.Rendering)
    items["api/render/rendering-lr.dot"] = rendering.dot.encode()
    for suffix in ("dot", "json", "mmd", "html", "svg"):
        path = gv.render(output, root / f"cnn-bn.{suffix}", params=params)
        assert isinstance(path, Path)
        items[f"api/render/cnn-bn.{suffix}"] = path.read_bytes()
    return items


def api_groups() -> dict[str, Callable[[Path], Items]]:
    """The Python API's items in groups: the start of their names -> what makes them."""
    groups: dict[str, Callable[[Path], Items]] = {"api/train-step/": train_items}
    groups |= {f"api/{key}/": partial(benchmark_items, key) for key in BENCHMARKS}
    groups |= {"api/hostile/": hostile_items, "api/": entry_point_items}  # make_dot/, render/
    return groups


def diff_inputs(folder: Path) -> None:
    """The JSON graphs the ``gradviz diff`` commands compare."""
    folder.mkdir(parents=True)
    steps = train_items(folder)
    for number in (1, 2):
        (folder / f"train-{number}.json").write_bytes(steps[f"api/train-step/call-{number}.json"])
    for key in ("transformer-2", "transformer-6"):
        output, params = graphs.build(key)
        (folder / f"{key}.json").write_text(gv.to_json(output, params=params), encoding="utf-8")


def selected(start: str, only: str | None, recorded: Collection[str]) -> bool:
    """Whether to make the items of a command labelled ``start``, or of the API group whose
    item names begin with ``start``, given ``--only``."""
    stem = re.sub(r"\.[^/]*$", "", start)  # "sample/x.py/call-all.dot" makes call-all-1.dot
    if only is None or only in start:
        return True
    return any(only in name and name.startswith(stem) for name in recorded)


def collect(root: Path, only: str | None, recorded: Collection[str], jobs: int) -> Items:
    """Make the corpus in ``root`` (only the items whose names contain ``only``): ``jobs``
    commands at a time, while this thread makes the Python API's items."""
    todo = {k: v for k, v in commands().items() if selected(k, only, recorded)}
    if any(label.startswith("diff/") for label in todo):
        diff_inputs(root / "in")
    parts: list[Items] = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running = [pool.submit(run_command, label, argv, root) for label, argv in todo.items()]
        for start, make in api_groups().items():
            if selected(start, only, recorded):
                parts.append({name: normalise(data, root) for name, data in make(root).items()})
        parts += [future.result() for future in running]
    items = {name: data for part in parts for name, data in part.items()}
    if len(items) != sum(map(len, parts)):
        raise RuntimeError("two items have the same name")
    return {name: data for name, data in items.items() if only is None or only in name}


def check_checkout() -> None:
    """Exit unless this checkout's package is the one imported, here and in the commands."""
    probe = [sys.executable, "-c", "import graphviz_autograd as g; print(g.__file__)"]
    there = subprocess.run(probe, env=ENV, cwd=REPO, capture_output=True, text=True)
    for where, file in (("here", gv.__file__), ("in the commands", there.stdout.strip())):
        if not file or not Path(file).resolve().is_relative_to(REPO):
            sys.exit(f"corpus: {where}, graphviz_autograd is not {REPO}'s: {file}{there.stderr}")


def compare(recorded: Mapping[str, str], hashes: Mapping[str, str]) -> list[str]:
    """A line per changed, missing or new item, by name."""
    lines = []
    for name in sorted(recorded.keys() | hashes.keys()):
        kind = "missing" if name not in hashes else "new" if name not in recorded else "changed"
        if recorded.get(name) != hashes.get(name):
            lines.append(f"{kind:<9}{name}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=" ".join((__doc__ or "").split("\n\n")[0].split()))
    parser.add_argument("--record", action="store_true", help=f"write {RECORD.name}")
    parser.add_argument("--keep", metavar="DIR", type=Path, help="keep the rendered files in DIR")
    parser.add_argument("--only", metavar="SUBSTR", help="only the items whose names contain it")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="commands at once")
    args = parser.parse_args()
    check_checkout()
    lines = RECORD.read_text(encoding="utf-8").splitlines() if RECORD.exists() else []
    recorded = {name: digest for digest, name in (line.split("  ", 1) for line in lines)}
    with tempfile.TemporaryDirectory(prefix="gradviz-corpus-") as tmp:
        items = collect(Path(tmp), args.only, recorded.keys(), max(1, args.jobs))
    for name, data in items.items() if args.keep else ():
        (args.keep / name).parent.mkdir(parents=True, exist_ok=True)
        (args.keep / name).write_bytes(data)
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in items.items()}
    took = f"({time.monotonic() - STARTED:.0f} s)"
    others = {n: h for n, h in recorded.items() if args.only is not None and args.only not in n}
    recorded = {n: h for n, h in recorded.items() if n not in others}  # --only: not compared
    if args.record:
        lines = [f"{h}  {n}\n" for n, h in sorted((others | hashes).items())]
        RECORD.write_text("".join(lines), encoding="utf-8")
        print(f"corpus: recorded {len(hashes)} items in {RECORD.relative_to(REPO)} {took}")
        return 0
    lines = compare(recorded, hashes)
    print("".join(f"{line}\n" for line in lines), end="")
    tally = Counter(line.split()[0] for line in lines)
    unchanged = len(hashes) - tally["changed"] - tally["new"]
    more = "".join(f", {count} {kind}" for kind, count in sorted(tally.items()))
    print(f"corpus: {len(hashes)} items, {unchanged} unchanged{more} {took}")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
