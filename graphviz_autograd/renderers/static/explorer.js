/* gradviz explorer: the graph in the page's JSON, laid out by Graphviz (viz-global.js) and
 * navigated here. Four parts, in the order data flows: data (read the JSON once), layout (what
 * is visible now, as DOT), draw (Graphviz's SVG, tagged with data-node / data-module; pan and
 * zoom), interact (click, search, fold and unfold, the details panel).
 *
 * Names are data: text reaches the DOM only through textContent and setAttribute, and reaches
 * Graphviz only through quote(), which writes a DOT string as renderers/dot.py does.
 */
"use strict";
(function () {
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

  function searchText(i) {
    const d = info(i);
    const parts = [ids[i], d.kind, d.op, d.name, d.module];
    if (d.source) parts.push(d.source.file + ":" + d.source.line, d.source.code);
    return parts.filter((p) => p !== null && p !== undefined).join("\n").toLowerCase();
  }
  const texts = Array.from({ length: N }, (_, i) => searchText(i));

  // ---- layout: what is visible now, as DOT ------------------------------------------------------

  const revealed = new Uint8Array(N); // a folded-away node shown by itself
  const partly = new Set(); // kept nodes some of whose nodes are shown
  const collapsed = new Set(); // module paths drawn as one node

  function foldedInto(i) {
    // the node of the current picture that node i is drawn as, before modules
    return rep[i] === i || revealed[i] ? i : rep[i];
  }

  function outerCollapsed(path) {
    let found = null;
    for (; path !== null; path = modules.get(path).parent) if (collapsed.has(path)) found = path;
    return found;
  }

  function visibleGraph() {
    // the key of the drawn node each node is part of: x<i> a node, r<i> the rest of a partly
    // unfolded node i, m<k> the k-th module, folded
    const keyOf = new Array(N);
    for (let i = 0; i < N; i++) {
      const v = foldedInto(i);
      const m = isRoot[v] ? null : outerCollapsed(moduleOf(v));
      keyOf[i] = m !== null ? "m" + modules.get(m).index : (v !== i && partly.has(v) ? "r" : "x") + v;
    }
    // A leaf, an input or a saved tensor (they have no module) that feeds only one folded
    // module goes into it: a folded layer takes its parameters with it.
    for (let i = 0; i < N; i++) {
      if (keyOf[i][0] === "m" || !SIDE_KINDS.has(info(i).kind) || isRoot[i] || !outs[i].length) continue;
      const into = keyOf[outs[i][0]];
      if (into[0] === "m" && outs[i].every((d) => keyOf[d] === into)) keyOf[i] = into;
    }
    const shown = new Map(); // key -> {key, kind, node, module, count, first}
    for (let i = 0; i < N; i++) {
      const key = keyOf[i];
      let item = shown.get(key);
      if (item === undefined) {
        const kind = key[0] === "m" ? "module" : key[0] === "r" ? "rest" : "node";
        const v = foldedInto(i);
        const module = kind === "module" ? modulePaths[key.slice(1) | 0] : null;
        // the node it shows: a node itself, else the first node it stands for
        item = { key, kind, node: v, module, count: 0, first: kind === "node" ? v : i, findings: [] };
        shown.set(key, item);
      }
      item.count += DATA.count[i];
      for (const k of findingsOf[i]) if (!item.findings.includes(k)) item.findings.push(k);
    }
    const edges = new Map();
    for (let e = 0; e < src.length; e++) {
      const a = keyOf[src[e]], b = keyOf[dst[e]];
      if (a === b) continue;
      const fs = foldedInto(src[e]), fd = foldedInto(dst[e]);
      // Between two folded nodes, draw only the edges the folded graph has: a dropped block
      // also feeds the kept copy of the block after it, which would close a loop.
      if ((fs !== src[e] || fd !== dst[e]) && a[0] === "x" && b[0] === "x" && isKept(fs) &&
          isKept(fd) && !foldedEdges.has(fs + "," + fd)) continue;
      const id = a + ">" + b + (saved[e] ? "s" : "");
      if (!edges.has(id)) edges.set(id, { a, b, saved: saved[e] });
    }
    for (const item of shown.values()) item.findings.sort(bySeverity);
    return { keyOf, shown, edges };
  }

  function quote(text) {
    // as renderers/dot.py quote(): a DOT double-quoted string, entities and all
    return '"' + String(text).replace(/&/g, "&amp;").replace(/\\/g, "\\\\").replace(/"/g, '\\"')
      .replace(/\r/g, "").replace(/\n/g, "\\n") + '"';
  }

  function outline(item) {
    // as renderers/marks.py outline(): the colour of the most severe finding, the codes beside
    if (!item.findings.length) return "";
    const codes = [...new Set(item.findings.map((k) => FINDINGS[k].code))].join(", ");
    return ` color="${FINDINGS[item.findings[0]].colour}" penwidth=3 xlabel=${quote(codes)}`;
  }

  function statement(item) {
    if (item.kind === "module") {
      const path = modulePaths[item.key.slice(1) | 0];
      const label = quote("module " + path + (item.count > 1 ? " ×" + item.count : ""));
      return `${item.key} [label=${label} fillcolor="#eeeeee" peripheries=2${outline(item)}];`;
    }
    // the rest of a partly unfolded node is labelled as the first node it stands for
    const [head, rest, attrs] = info(item.kind === "rest" ? item.first : item.node).look;
    const count = item.kind === "rest" || item.count > 1 ? " ×" + item.count : "";
    const dashed = item.kind === "rest" ? ' style="rounded,filled,dashed"' : "";
    return `${item.key} [label="${head}${count}${rest}" ${attrs}${dashed}${outline(item)}];`;
  }

  function toDot(vg) {
    // as renderers/dot.py writes it: the nodes, then the open modules as nested clusters that
    // list their nodes, then the edges; so a picture and the explorer lay out alike
    const lines = [DATA.dot_header];
    const inside = new Map(); // open module path -> its nodes' names
    const used = new Set();
    for (const item of vg.shown.values()) {
      lines.push("  " + statement(item));
      let home = item.kind === "module" ? modules.get(item.module).parent
        : (isRoot[item.node] ? null : moduleOf(item.node));
      if (home === null) continue;
      if (!inside.has(home)) inside.set(home, []);
      inside.get(home).push(item.key);
      for (; home !== null; home = modules.get(home).parent) used.add(home);
    }
    const cluster = (path, depth) => {
      const pad = "  ".repeat(depth);
      lines.push(`${pad}subgraph cluster_m${modules.get(path).index} { label=${quote(path)} ` +
        'style="rounded,dashed" color="#999999" fontcolor="#555555" fontsize=9 labelloc=t;');
      for (const name of inside.get(path) || []) lines.push(`${pad}  ${name};`);
      for (const child of modules.get(path).children) if (used.has(child)) cluster(child, depth + 1);
      lines.push(pad + "}");
    };
    for (const path of modulePaths) {
      if (modules.get(path).parent === null && used.has(path)) cluster(path, 1);
    }
    for (const edge of vg.edges.values()) {
      lines.push(`  ${edge.a} -> ${edge.b}${edge.saved ? " [" + DATA.saved_edge + "]" : ""};`);
    }
    lines.push("}");
    return lines.join("\n");
  }

  // ---- draw: Graphviz's SVG, tagged; pan and zoom ------------------------------------------------

  const canvas = document.getElementById("canvas");
  const details = document.getElementById("details");
  const status = document.getElementById("status");
  let viz = null;
  let current = null; // {vg, svg, elements: key -> SVG group, inputs, outputs}
  let view = null; // the SVG's viewBox: {x, y, w, h}
  let base = null;

  function setView(box) {
    view = box;
    current.svg.setAttribute("viewBox", `${box.x} ${box.y} ${box.w} ${box.h}`);
  }

  function fit() {
    if (current) setView({ ...base });
  }

  function toSvg(el) {
    // the matrix from el's own units to the SVG's viewBox units (Graphviz translates its top
    // group, so getBBox() alone is not in viewBox units)
    const outer = current.svg.getScreenCTM(), inner = el.getScreenCTM();
    return outer && inner ? outer.inverse().multiply(inner) : new DOMMatrix(); // null when not drawn
  }

  function boxOf(el) {
    const b = el.getBBox(), m = toSvg(el);
    const p = new DOMPoint(b.x, b.y).matrixTransform(m);
    const q = new DOMPoint(b.x + b.width, b.y + b.height).matrixTransform(m);
    return { x: Math.min(p.x, q.x), y: Math.min(p.y, q.y), w: Math.abs(q.x - p.x), h: Math.abs(q.y - p.y) };
  }

  function readableScale() {
    // screen pixels per viewBox unit at which a node's label is READABLE_PX high
    const text = current.svg.querySelector("g.node text");
    const size = text ? parseFloat(text.getAttribute("font-size")) * Math.abs(toSvg(text).a) : 10;
    return READABLE_PX / (size || 10);
  }

  function viewAround(cx, cy, scale, within) {
    // the view showing point (cx, cy) in the middle at `scale` pixels per unit; kept inside
    // the box `within`, if given, along each side where the view is the smaller
    const room = canvas.getBoundingClientRect();
    const w = room.width / scale, h = room.height / scale;
    let x = cx - w / 2, y = cy - h / 2;
    if (within) {
      x = w >= within.w ? within.x + (within.w - w) / 2 : Math.min(Math.max(x, within.x), within.x + within.w - w);
      y = h >= within.h ? within.y + (within.h - h) / 2 : Math.min(Math.max(y, within.y), within.y + within.h - h);
    }
    return { x, y, w, h };
  }

  function opening() {
    // the whole graph if its labels can be read so; else readable, at the first root (the
    // loss), the view kept inside the drawing: the loss and what feeds it
    const room = canvas.getBoundingClientRect();
    const fitted = Math.min(room.width / base.w, room.height / base.h);
    const readable = readableScale();
    if (!(room.width > 0 && room.height > 0)) return { ...base }; // a page not shown yet
    const root = DATA.roots.length ? current.elements.get(current.vg.keyOf[DATA.roots[0]]) : undefined;
    if (fitted >= readable * 0.999 || !root) return { ...base };
    const r = boxOf(root), box = current.svg.viewBox.baseVal;
    return viewAround(r.x + r.w / 2, r.y + r.h / 2, readable,
      { x: box.x, y: box.y, w: box.width, h: box.height });
  }

  function centre(el, scale) {
    if (!(scale > 0 && Number.isFinite(scale))) return; // a page not shown
    const b = boxOf(el);
    setView(viewAround(b.x + b.w / 2, b.y + b.h / 2, scale));
  }

  function toSvgPoint(clientX, clientY) {
    const r = current.svg.getBoundingClientRect();
    // preserveAspectRatio="xMidYMid meet": one scale, the box centred
    const scale = Math.max(view.w / r.width, view.h / r.height);
    return {
      x: view.x + view.w / 2 + (clientX - r.left - r.width / 2) * scale,
      y: view.y + view.h / 2 + (clientY - r.top - r.height / 2) * scale,
      scale,
    };
  }

  function zoomAt(factor, clientX, clientY) {
    const p = toSvgPoint(clientX, clientY);
    setView({
      x: p.x - (p.x - view.x) * factor, y: p.y - (p.y - view.y) * factor,
      w: view.w * factor, h: view.h * factor,
    });
  }

  function centreOn(key) {
    // in the middle of the canvas, zoomed in to a readable size if it was smaller; never so
    // far that the node overflows the canvas
    const el = current.elements.get(key);
    if (!el) return;
    const room = canvas.getBoundingClientRect(), b = boxOf(el);
    const scale = Math.min(Math.max(1 / toSvgPoint(0, 0).scale, readableScale()),
      0.9 * room.width / b.w, 0.9 * room.height / b.h);
    centre(el, scale);
  }

  function draw(vg, focus) {
    const started = performance.now();
    const scale = current ? 1 / toSvgPoint(0, 0).scale : null; // pixels per unit, before
    const names = new Map([...vg.shown.values()].map((item) => [item.key, item]));
    const svg = viz.renderSVGElement(toDot(vg));
    const elements = new Map();
    for (const g of svg.querySelectorAll("g.node")) {
      const title = g.querySelector("title");
      const item = names.get(title.textContent);
      title.remove();
      if (!item) continue;
      g.setAttribute("data-node", ids[item.first]);
      g.setAttribute("data-key", item.key);
      if (item.kind === "module") g.setAttribute("data-module", modulePaths[item.key.slice(1) | 0]);
      if (item.kind !== "node" || item.count > 1) g.classList.add("folded");
      if (item.findings.length) g.setAttribute("data-severity", FINDINGS[item.findings[0]].severity);
      const unit = item.kind === "module" ? undefined : unitOf.get(item.kind === "rest" ? item.node : rep[item.first]);
      if (unit !== undefined && unfoldOrder(unit).some((j) => !revealed[j])) g.classList.add("unfoldable");
      elements.set(item.key, g);
    }
    for (const g of svg.querySelectorAll("g.cluster")) {
      const title = g.querySelector("title");
      const path = modulePaths[title.textContent.slice("cluster_m".length) | 0];
      title.remove();
      g.setAttribute("data-module", path);
    }
    const inputs = new Map(), outputs = new Map();
    for (const key of names.keys()) {
      inputs.set(key, []);
      outputs.set(key, []);
    }
    for (const g of svg.querySelectorAll("g.edge")) {
      const title = g.querySelector("title");
      const [a, b] = title.textContent.split("->");
      title.remove();
      g.setAttribute("data-src", a);
      g.setAttribute("data-dst", b);
      if (inputs.has(b) && outputs.has(a)) {
        inputs.get(b).push(a);
        outputs.get(a).push(b);
      }
    }
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    canvas.replaceChildren(svg);
    // Fit, but never larger than the drawing's own size (Graphviz's units are points).
    const box = svg.viewBox.baseVal, room = canvas.getBoundingClientRect();
    const w = Math.max(box.width, room.width * 0.75), h = Math.max(box.height, room.height * 0.75);
    base = { x: box.x - (w - box.width) / 2, y: box.y - (h - box.height) / 2, w, h };
    current = { vg, svg, elements, inputs, outputs };
    // the first picture opens readable; the next ones keep the zoom, on what changed
    const shown = focus && scale ? focus() : null;
    setView({ ...base });
    if (shown) centre(shown, scale);
    else setView(opening());
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    const total = DATA.total_nodes.toLocaleString("en-US");
    status.textContent = `${vg.shown.size.toLocaleString("en-US")} shown of ${total} nodes · ` +
      `layout ${seconds} s`;
  }

  // ---- interact ---------------------------------------------------------------------------------

  let selected = null; // a model node index
  let matches = []; // keys, in drawing order
  let at = -1;

  function relayout(focus, then) {
    // focus: () => the drawn element to centre the new picture on, at the zoom of the old;
    // then: what to do once it is drawn
    document.body.dataset.state = "layout";
    status.textContent = "laying out…";
    // let the status paint before Graphviz holds the thread
    requestAnimationFrame(() => setTimeout(() => {
      try {
        draw(visibleGraph(), focus);
        applySearch(false);
        if (selected !== null) highlight(current.vg.keyOf[selected]);
        if (then) then();
        document.body.dataset.layouts = String((document.body.dataset.layouts | 0) + 1);
        document.body.dataset.state = "ready";
      } catch (error) {
        status.textContent = "layout failed: " + error;
        document.body.dataset.state = "error";
      }
    }, 0));
  }

  function highlight(key) {
    const svg = current.svg;
    for (const el of svg.querySelectorAll(".path, .selected")) el.classList.remove("path", "selected");
    if (!current.elements.has(key)) {
      svg.classList.remove("tracing");
      return;
    }
    // every node on a path from the leaves to it, and from it to the roots
    const walk = (start, next) => {
      const seen = new Set([start]);
      const stack = [start];
      while (stack.length) for (const k of next.get(stack.pop())) {
        if (!seen.has(k)) {
          seen.add(k);
          stack.push(k);
        }
      }
      return seen;
    };
    const up = walk(key, current.inputs), down = walk(key, current.outputs);
    for (const k of [...up, ...down]) current.elements.get(k).classList.add("path");
    current.elements.get(key).classList.add("selected");
    for (const g of svg.querySelectorAll("g.edge")) {
      const a = g.getAttribute("data-src"), b = g.getAttribute("data-dst");
      if ((up.has(a) && up.has(b)) || (down.has(a) && down.has(b))) g.classList.add("path");
    }
    svg.classList.add("tracing");
  }

  function row(table, name, value) {
    if (value === null || value === undefined || value === "") return;
    const tr = table.insertRow();
    const th = document.createElement("th");
    th.textContent = name;
    tr.appendChild(th);
    const td = tr.insertCell();
    if (value instanceof Node) td.appendChild(value);
    else td.textContent = String(value);
  }

  function element(tag, text, cls) {
    const el = document.createElement(tag);
    if (text !== undefined) el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }

  function button(text, action, onClick) {
    const b = element("button", text);
    b.type = "button";
    b.setAttribute("data-action", action);
    b.addEventListener("click", onClick);
    return b;
  }

  const shape = (s) => (s === null || s === undefined ? "?" : "(" + s.join(", ") + (s.length === 1 ? ",)" : ")"));

  function number(v) {
    // four significant digits, as the labels show them (Python's "{:.4g}"); JSON has "nan", "inf"
    if (typeof v !== "number" || Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-4 || a >= 1e16) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
  }

  function statsTable(g) {
    const t = element("table", undefined, "stats");
    row(t, "shape", shape(g.shape));
    for (const k of ["norm", "min", "max", "mean"]) row(t, k, g[k] === null ? "-" : number(g[k]));
    row(t, "NaN", g.nan);
    row(t, "Inf", g.inf);
    if (g.values) row(t, "values", "[" + g.values.map(number).join(", ") + "]");
    return t;
  }

  function showDetails(item) {
    const i = item.first;
    const d = info(i);
    details.replaceChildren();
    const head = element("h2", d.look ? labelHead(item) : ids[i]);
    details.appendChild(head);
    const actions = element("div", undefined, "actions");
    if (item.kind === "module") {
      actions.appendChild(button("open module", "open", () => toggleModule(item.module)));
      details.appendChild(element("p", `${item.count} nodes inside; the first of them:`));
    }
    const kept = item.kind === "rest" ? item.node : rep[i];
    const u = unitOf.get(kept);
    if (u !== undefined && item.kind !== "module") {
      const order = unfoldOrder(u);
      const hidden = order.filter((j) => !revealed[j]).length;
      if (hidden) actions.appendChild(button(`unfold (${Math.min(hidden, UNFOLD_STEP)} more)`, "unfold", () => unfold(u)));
      if (hidden < order.length) actions.appendChild(button("fold back", "fold", () => foldBack(u)));
    }
    const home = item.kind === "module" ? item.module : moduleOf(item.node);
    if (home !== null && item.kind !== "module" && !isRoot[item.node]) {
      actions.appendChild(button(`fold module ${home}`, "fold-module", () => toggleModule(home)));
    }
    if (actions.childNodes.length) details.appendChild(actions);
    if (item.findings.length) { // a report's findings about it come first
      details.appendChild(element("h3", item.findings.length === 1 ? "finding" : "findings"));
      for (const k of item.findings) details.appendChild(findingEntry(k, "div"));
    }
    const t = element("table");
    row(t, "id", ids[i]);
    row(t, "kind", d.kind);
    row(t, "op", d.op);
    row(t, "name", d.name);
    row(t, "shape", d.shape === null ? null : shape(d.shape));
    row(t, "dtype", d.dtype);
    row(t, "is_leaf", d.is_leaf);
    row(t, "requires_grad", d.requires_grad);
    row(t, "retains_grad", d.retains_grad);
    if (d.grad_returned) row(t, "grad from", "returned by torch.autograd.grad, not stored in .grad");
    row(t, "order", d.order);
    if (item.count > 1) row(t, "stands for", `${item.count} nodes`);
    row(t, "module", d.module);
    if (d.source) {
      const code = element("code", d.source.code);
      const where = element("span", `${d.source.file}:${d.source.line}`);
      const both = element("div");
      both.append(where, element("br"), code);
      row(t, "source", both);
    }
    if (d.kind === "saved") row(t, "freed", d.freed);
    row(t, "grad", d.grad ? statsTable(d.grad) : (d.kind === "leaf" ? "None (no backward yet)" : null));
    if (d.grads) d.grads.forEach((g, k) => row(t, `grad of output ${k}`, g ? statsTable(g) : "None"));
    for (const [k, v] of Object.entries(d.attrs || {})) row(t, k, v);
    if (d.saved && d.saved.length) {
      const s = element("table", undefined, "saved");
      for (const x of d.saved) {
        row(s, x.name, x.freed ? "freed by backward" : `${shape(x.shape)} ${x.dtype} · ${x.bytes} bytes`);
      }
      row(t, "saved", s);
    }
    details.appendChild(t);
  }

  function findingEntry(k, tag) {
    // a finding as the details panel and the findings list show it: severity and code, the
    // message, the fix, the line
    const f = FINDINGS[k];
    const entry = element(tag, undefined, "finding");
    entry.setAttribute("data-finding", String(k));
    entry.setAttribute("data-severity", f.severity);
    entry.style.borderLeftColor = f.colour;
    const head = element("div", undefined, "head");
    head.append(element("span", f.severity, "severity"), " ", element("b", f.code));
    entry.append(head, element("div", f.message, "message"));
    const fix = element("div", undefined, "fix");
    fix.append(element("span", "fix: ", "label"), f.hint);
    entry.appendChild(fix);
    if (f.where) {
      const line = element("div", undefined, "line");
      line.append(element("span", f.where, "where"));
      if (f.line) line.append(" ", element("code", f.line));
      entry.appendChild(line);
    }
    return entry;
  }

  function showFinding(k) {
    // select and centre the finding's first node, opening the modules folded around it
    const i = FINDINGS[k].nodes[0];
    if (i === undefined) return;
    for (const el of document.querySelectorAll("#findings .finding")) {
      el.classList.toggle("active", el.getAttribute("data-finding") === String(k));
    }
    let opened = false;
    for (let path = isRoot[i] ? null : moduleOf(i); path !== null; path = modules.get(path).parent) {
      if (collapsed.delete(path)) opened = true;
    }
    const go = () => {
      const key = current.vg.keyOf[i];
      select(key);
      centreOn(key);
    };
    if (opened) relayout(() => current.elements.get(current.vg.keyOf[i]), go);
    else go();
  }

  function listFindings() {
    // the findings beside the graph, when the page is a report
    const panel = document.getElementById("findings");
    if (!DATA.findings) return;
    const count = {};
    for (const f of FINDINGS) count[f.severity] = (count[f.severity] || 0) + 1;
    const summary = ["error", "warning", "info"].filter((s) => count[s])
      .map((s) => `${count[s]} ${s}${count[s] === 1 ? "" : "s"}`).join(", ") || "no findings";
    panel.append(element("h2", "Findings"), element("p", summary, "summary"));
    const list = element("ol");
    FINDINGS.forEach((f, k) => {
      const entry = findingEntry(k, "li");
      if (f.nodes.length) {
        entry.classList.add("clickable");
        entry.tabIndex = 0;
        entry.setAttribute("role", "button");
        entry.title = "show its node in the graph";
        entry.addEventListener("click", () => showFinding(k));
        entry.addEventListener("keydown", (event) => {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            showFinding(k);
          }
        });
      } else {
        entry.appendChild(element("div", "not a node of this graph", "absent"));
      }
      list.appendChild(entry);
    });
    panel.appendChild(list);
    panel.hidden = false;
  }

  function labelHead(item) {
    if (item.kind === "module") return `module ${item.module} ×${item.count}`;
    return info(item.kind === "rest" ? item.first : item.node).look[3] + (item.count > 1 || item.kind === "rest" ? " ×" + item.count : "");
  }

  function select(key) {
    const item = current.vg.shown.get(key);
    if (!item) return;
    selected = item.first;
    highlight(key);
    showDetails(item);
  }

  const hint = [...details.childNodes];
  function unselect() {
    selected = null;
    highlight(null);
    details.replaceChildren(...hint);
  }

  function toggleModule(path) {
    if (collapsed.has(path)) {
      collapsed.delete(path);
      if (modules.get(path).size > MODULE_OPENS_WHOLE) {
        for (const child of modules.get(path).children) collapsed.add(child);
      }
    } else {
      collapsed.add(path);
      for (const other of [...collapsed]) if (other.startsWith(path + ".")) collapsed.delete(other);
    }
    // the folded module's node, or the open module's frame
    relayout(() => [...current.svg.querySelectorAll("[data-module]")]
      .find((g) => g.getAttribute("data-module") === path));
  }

  function unfold(u) {
    let left = UNFOLD_STEP;
    for (const j of unfoldOrder(u)) {
      if (left === 0) break;
      if (!revealed[j]) {
        revealed[j] = 1;
        left -= 1;
      }
    }
    for (const k of unitKept.get(u)) {
      if (members.get(k).some((j) => revealed[j]) && members.get(k).some((j) => !revealed[j])) partly.add(k);
      else partly.delete(k);
    }
    relayout(() => unitNode(u));
  }

  function foldBack(u) {
    for (const k of unitKept.get(u)) {
      for (const j of members.get(k)) revealed[j] = 0;
      partly.delete(k);
    }
    if (selected !== null && !isKept(selected) && unitOf.get(rep[selected]) === u) selected = rep[selected];
    relayout(() => unitNode(u));
  }

  function unitNode(u) {
    // the drawn node of a unit's first kept node
    return current.elements.get(current.vg.keyOf[unitKept.get(u)[0]]);
  }

  function applySearch(move) {
    const box = document.getElementById("search");
    const q = box.value.trim().toLowerCase();
    for (const el of current.svg.querySelectorAll(".match, .current")) el.classList.remove("match", "current");
    matches = [];
    if (q) {
      const keys = new Set();
      for (let i = 0; i < N; i++) if (texts[i].includes(q)) keys.add(current.vg.keyOf[i]);
      matches = [...current.elements.keys()].filter((k) => keys.has(k));
      for (const k of matches) current.elements.get(k).classList.add("match");
    }
    if (at >= matches.length) at = matches.length - 1;
    if (move) at = matches.length ? 0 : -1;
    showFound(q);
  }

  function showFound(q) {
    const found = document.getElementById("found");
    if (!q) found.textContent = "";
    else if (!matches.length) found.textContent = "no match";
    else found.textContent = at >= 0 ? `${at + 1} of ${matches.length}` : `${matches.length} found`;
    if (at >= 0 && matches.length) current.elements.get(matches[at]).classList.add("current");
  }

  function step(by) {
    if (!matches.length) return;
    for (const el of current.svg.querySelectorAll(".current")) el.classList.remove("current");
    at = ((at < 0 ? (by > 0 ? -1 : 0) : at) + by + matches.length) % matches.length;
    showFound(document.getElementById("search").value.trim());
    select(matches[at]);
    centreOn(matches[at]);
  }

  let drag = null;
  canvas.addEventListener("pointerdown", (event) => {
    if (!current || event.button !== 0) return;
    delete canvas.dataset.dragged; // a drag that ended outside the canvas left it
    drag = { x: event.clientX, y: event.clientY, view: { ...view }, moved: false };
  });
  window.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    drag.moved = true;
    canvas.classList.add("dragging");
    const scale = toSvgPoint(0, 0).scale;
    setView({ ...drag.view, x: drag.view.x - dx * scale, y: drag.view.y - dy * scale });
  });
  window.addEventListener("pointerup", () => {
    canvas.classList.remove("dragging");
    if (drag && drag.moved) canvas.dataset.dragged = "1";
    drag = null;
  });
  canvas.addEventListener("wheel", (event) => {
    if (!current) return;
    event.preventDefault();
    zoomAt(Math.exp(event.deltaY * 0.0015), event.clientX, event.clientY);
  }, { passive: false });

  canvas.addEventListener("click", (event) => {
    if (canvas.dataset.dragged) {
      delete canvas.dataset.dragged;
      return;
    }
    const node = event.target.closest("g.node[data-key]");
    if (node) {
      if (node.hasAttribute("data-module")) toggleModule(node.getAttribute("data-module"));
      else select(node.getAttribute("data-key"));
      return;
    }
    const frame = event.target.closest("g.cluster[data-module]");
    if (frame) toggleModule(frame.getAttribute("data-module"));
    else unselect();
  });
  canvas.addEventListener("dblclick", (event) => {
    const node = event.target.closest("g.node.folded[data-key]");
    if (!node || node.hasAttribute("data-module")) return;
    const item = current.vg.shown.get(node.getAttribute("data-key"));
    const u = unitOf.get(item.kind === "rest" ? item.node : rep[item.first]);
    if (u !== undefined) unfold(u);
  });

  const search = document.getElementById("search");
  search.addEventListener("input", () => {
    at = -1;
    applySearch(false);
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      step(event.shiftKey ? -1 : 1);
    }
  });
  document.getElementById("next").addEventListener("click", () => step(1));
  document.getElementById("prev").addEventListener("click", () => step(-1));
  document.getElementById("fit").addEventListener("click", fit);
  document.addEventListener("keydown", (event) => {
    if (event.target === search || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "f" || event.key === "F") fit();
    else if (event.key === "Escape") unselect();
    else if (event.key === "/") {
      event.preventDefault();
      search.focus();
    }
  });

  function openModulesFolded() {
    // the deepest module level at which the picture has at most OPEN_UP_TO nodes
    const count = () => new Set(visibleGraph().keyOf).size;
    if (!modulePaths.length || count() <= OPEN_UP_TO) return;
    const deepest = Math.max(...modulePaths.map((p) => modules.get(p).depth));
    for (let depth = deepest; depth >= 0; depth--) {
      collapsed.clear();
      for (const p of modulePaths) if (modules.get(p).depth === depth) collapsed.add(p);
      if (count() <= OPEN_UP_TO) return;
    }
  }

  const notes = document.getElementById("notes");
  const lines = [...DATA.notes];
  if (!DATA.whole) lines.push(`The graph has more than ${N.toLocaleString("en-US")} nodes: it is in this page folded only.`);
  else if (members.size) lines.push("Double-click a ×N node, or use its details, to unfold it.");
  for (const line of lines) notes.appendChild(element("p", line));
  const legend = element("p", undefined, "legend");
  for (const [colours, meaning] of DATA.legend) {
    const entry = element("span");
    for (const colour of colours) {
      const swatch = element("span", undefined, "swatch");
      swatch.style.background = colour;
      entry.appendChild(swatch);
    }
    entry.appendChild(document.createTextNode(" " + meaning));
    legend.appendChild(entry);
  }
  notes.appendChild(legend);
  listFindings();

  document.body.dataset.state = "loading";
  Viz.instance().then((instance) => {
    viz = instance;
    openModulesFolded();
    relayout();
  }, (error) => {
    status.textContent = "cannot start Graphviz: " + error;
    document.body.dataset.state = "error";
  });
})();
