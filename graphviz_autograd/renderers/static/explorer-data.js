  // ---- data -----------------------------------------------------------------------------------

  const DATA = JSON.parse(document.getElementById("gradviz-data").textContent);
  const N = DATA.ids.length;
  const ids = DATA.ids;
  const infos = new Map();
  function info(i) {
    // node i's description, its shared parts looked up (see renderers/html.py)
    let d = infos.get(i);
    if (d === undefined) {
      d = { ...DATA.info[DATA.info_of[i]], order: DATA.order[i] };
      for (const key of DATA.shared_parts) if (typeof d[key] === "number") d[key] = DATA.parts[d[key]];
      infos.set(i, d);
    }
    return d;
  }
  // A node's gradient summary as shown now: the one recorded with the graph, unless a part
  // that follows the steps of a whole run sets another (it then dispatches "gradviz:step" on
  // document, and what shows figures draws them again).
  let gradNow = (i) => info(i).grad;
  const OPEN_UP_TO = 30; // a graph with more visible nodes opens with its modules folded
  const MODULE_OPENS_WHOLE = 40; // a module of up to this many nodes opens with its submodules
  const UNFOLD_STEP = 100; // nodes shown by one unfold of a ×N node
  const READABLE_PX = 11; // the page opens with label text at least this big on screen

  const src = [], dst = [], saved = [];
  for (let k = 0; k < DATA.edges.length; k += 3) {
    src.push(DATA.edges[k]);
    dst.push(DATA.edges[k + 1]);
    saved.push(DATA.edges[k + 2] === 1);
  }
  const outs = Array.from({ length: N }, () => []);
  for (let e = 0; e < src.length; e++) outs[src[e]].push(dst[e]);
  const SIDE_KINDS = new Set(["leaf", "input", "saved"]);
  const isRoot = new Uint8Array(N);
  for (const r of DATA.roots) isRoot[r] = 1;
  const rep = DATA.rep;
  const isKept = (i) => DATA.folded_count[i] > 0;

  // Findings (a doctor's report): the ones about each node, the most severe first.
  const FINDINGS = DATA.findings || [];
  const SEVERITY_RANK = { error: 0, warning: 1, info: 2 };
  const bySeverity = (a, b) => SEVERITY_RANK[FINDINGS[a].severity] - SEVERITY_RANK[FINDINGS[b].severity] || a - b;
  const findingsOf = Array.from({ length: N }, () => []);
  FINDINGS.forEach((f, k) => { for (const i of new Set(f.nodes)) findingsOf[i].push(k); });
  for (const list of findingsOf) list.sort(bySeverity);

  // Folding: the nodes each kept node stands for, and the groups of kept nodes folded together
  // (a branch with its leaf, a block), which unfold together.
  const members = new Map();
  for (let i = 0; i < N; i++) {
    if (rep[i] !== i) {
      if (!members.has(rep[i])) members.set(rep[i], []);
      members.get(rep[i]).push(i);
    }
  }
  const foldedEdges = new Set();
  for (let k = 0; k < DATA.folded_edges.length; k += 2) {
    foldedEdges.add(DATA.folded_edges[k] + "," + DATA.folded_edges[k + 1]);
  }
  const unitOf = new Map();
  {
    const parent = new Map();
    const find = (x) => {
      while (parent.get(x) !== x) x = parent.get(x);
      return x;
    };
    for (const k of members.keys()) parent.set(k, k);
    for (let k = 0; k < DATA.folded_edges.length; k += 2) {
      const a = DATA.folded_edges[k], b = DATA.folded_edges[k + 1];
      if (parent.has(a) && parent.has(b)) parent.set(find(a), find(b));
    }
    for (const k of members.keys()) unitOf.set(k, find(k));
  }
  const unitKept = new Map(); // unit -> its kept nodes, in node order
  for (const k of [...members.keys()].sort((a, b) => a - b)) {
    const u = unitOf.get(k);
    if (!unitKept.has(u)) unitKept.set(u, []);
    unitKept.get(u).push(k);
  }
  const orders = new Map();
  function unfoldOrder(u) {
    // copy by copy: the i-th node each kept node stands for, in turn
    if (orders.has(u)) return orders.get(u);
    const lists = unitKept.get(u).map((k) => members.get(k));
    const out = [];
    const longest = Math.max(...lists.map((l) => l.length));
    for (let j = 0; j < longest; j++) for (const l of lists) if (j < l.length) out.push(l[j]);
    orders.set(u, out);
    return out;
  }

  // Modules: every prefix of a module path is a module.
  const moduleOf = (i) => info(i).module || null;
  const modules = new Map(); // path -> {index, parent, children, size}
  function addModule(path) {
    if (modules.has(path)) return modules.get(path);
    const cut = path.lastIndexOf(".");
    const parent = cut < 0 ? null : path.slice(0, cut);
    const entry = { index: modules.size, parent, children: [], size: 0, depth: 0 };
    modules.set(path, entry);
    if (parent !== null) {
      const up = addModule(parent);
      up.children.push(path);
      entry.depth = up.depth + 1;
    }
    return entry;
  }
  for (let i = 0; i < N; i++) {
    let path = moduleOf(i);
    if (path === null) continue;
    addModule(path);
    for (; path !== null; path = modules.get(path).parent) modules.get(path).size += 1;
  }
  // in the order renderers/dot.py numbers its clusters: by depth, then by path
  const modulePaths = [...modules.keys()].sort((a, b) =>
    modules.get(a).depth - modules.get(b).depth || (a < b ? -1 : a > b ? 1 : 0));
  modulePaths.forEach((path, index) => { modules.get(path).index = index; });
  for (const entry of modules.values()) entry.children.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  // Runs of identical sibling modules (renderers/explorer_folds.py): h.0 … h.19, drawn as one
  // node while folded; opened, as their members, each a folded module.
  const RUNS = DATA.runs || [];
  const runOf = new Map(); // member path -> its run's index
  RUNS.forEach((run, k) => { for (const path of run.members) runOf.set(path, k); });
  function runName(k) {
    // "model.transformer.h.0–h.19"
    const members = RUNS[k].members, last = members[members.length - 1];
    return `${members[0]}–${last.slice(RUNS[k].parent.lastIndexOf(".") + 1)}`;
  }

  // Figures of folded things, from the nodes they hold now: the gradient norms of their ops
  // (min, median, max; shaded by the largest on the scale of the ops, as renderers/style.py
  // grad_shades shades them) and the bytes their nodes saved for backward, when recorded.
  const SHADING = DATA.shading;
  function roundHalfEven(x) {
    // Python's round()
    const r = Math.round(x);
    return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }
  function shadeOf(norm, ramp = SHADING.ramp) {
    // a norm's shade in `ramp` (the ops', or the leaves' on a run's page) on SHADING's scale
    const top = ramp.length - 1;
    if (!(norm > 0) || SHADING.low === null) return ramp[0];
    const lo = Math.log10(SHADING.low), hi = Math.log10(SHADING.high);
    const step = hi === lo ? top : roundHalfEven((Math.log10(norm) - lo) / (hi - lo) * top);
    return ramp[Math.min(Math.max(step, 0), top)];
  }
  function figures(nodes) {
    const norms = [];
    let bad = 0, saved = DATA.saved_of ? 0 : null;
    for (const i of nodes) {
      if (saved !== null) saved += DATA.saved_of[i];
      const g = gradNow(i);
      if (!g || isRoot[i] || info(i).kind !== "op") continue;
      if (g.nan || g.inf) bad += 1;
      else if (typeof g.norm === "number" && Number.isFinite(g.norm)) norms.push(g.norm);
    }
    norms.sort((a, b) => a - b);
    const n = norms.length, mid = n >> 1;
    const median = n ? (n % 2 ? norms[mid] : (norms[mid - 1] + norms[mid]) / 2) : null;
    const max = n ? norms[n - 1] : null;
    const fill = bad ? SHADING.nonfinite : n ? shadeOf(max) : null;
    return { count: n, min: n ? norms[0] : null, median, max, bad, saved, fill };
  }
  function bytes(n) {
    // as renderers/labels.py fmt_bytes: "1.5 MiB"
    let size = n;
    for (const unit of ["B", "KiB", "MiB", "GiB"]) {
      if (size < 1024 || unit === "GiB") return unit === "B" ? `${Math.round(size)} B` : `${size.toFixed(1)} ${unit}`;
      size /= 1024;
    }
  }
  function figureLines(f) {
    // the lines a folded thing's label and details give its figures in
    const lines = [];
    if (f.count) lines.push(`grad ‖·‖ min ${number(f.min)} · median ${number(f.median)} · max ${number(f.max)}`);
    if (f.bad) lines.push(`grad NaN/Inf in ${f.bad} op${f.bad === 1 ? "" : "s"}`);
    if (f.saved) lines.push(`saved ${bytes(f.saved)}`);
    return lines;
  }

  function searchText(i) {
    const d = info(i);
    const parts = [ids[i], d.kind, d.op, d.name, d.module];
    if (d.source) parts.push(d.source.file + ":" + d.source.line, d.source.code);
    return parts.filter((p) => p !== null && p !== undefined).join("\n").toLowerCase();
  }
  const texts = Array.from({ length: N }, (_, i) => searchText(i));

