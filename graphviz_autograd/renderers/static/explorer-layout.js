  // ---- layout: what is visible now, as DOT ------------------------------------------------------

  const revealed = new Uint8Array(N); // a folded-away node shown by itself
  const partly = new Set(); // kept nodes some of whose nodes are shown
  const collapsed = new Set(); // module paths drawn as one node
  const collapsedRuns = new Set(); // runs of identical modules drawn as one node

  function foldedInto(i) {
    // the node of the current picture that node i is drawn as, before modules
    return rep[i] === i || revealed[i] ? i : rep[i];
  }

  function outerFolded(path) {
    // the key of the outermost folded module (m<k>) or run of them (g<k>) holding `path`
    let found = null;
    for (; path !== null; path = modules.get(path).parent) {
      if (runOf.has(path) && collapsedRuns.has(runOf.get(path))) found = "g" + runOf.get(path);
      else if (collapsed.has(path)) found = "m" + modules.get(path).index;
    }
    return found;
  }

  function openRun(k) {
    // a folded run opens as its members, each folded; whether it was folded
    if (!collapsedRuns.delete(k)) return false;
    for (const path of RUNS[k].members) collapsed.add(path);
    return true;
  }

  function visibleGraph() {
    // the key of the drawn node each node is part of: x<i> a node, r<i> the rest of a partly
    // unfolded node i, m<k> the k-th module, folded, g<k> the k-th run of modules, folded
    const keyOf = new Array(N);
    for (let i = 0; i < N; i++) {
      const v = foldedInto(i);
      const m = isRoot[v] ? null : outerFolded(moduleOf(v));
      keyOf[i] = m !== null ? m : (v !== i && partly.has(v) ? "r" : "x") + v;
    }
    // A leaf, an input or a saved tensor (they have no module) that feeds only one folded
    // module goes into it: a folded layer takes its parameters with it.
    for (let i = 0; i < N; i++) {
      if (isGroup(keyOf[i]) || !SIDE_KINDS.has(info(i).kind) || isRoot[i] || !outs[i].length) continue;
      const into = keyOf[outs[i][0]];
      if (isGroup(into) && outs[i].every((d) => keyOf[d] === into)) keyOf[i] = into;
    }
    const shown = new Map(); // key -> {key, kind, node, module, count, first}
    for (let i = 0; i < N; i++) {
      const key = keyOf[i];
      let item = shown.get(key);
      if (item === undefined) {
        const kind = { m: "module", g: "run", r: "rest" }[key[0]] || "node";
        const v = foldedInto(i);
        const module = kind === "module" ? modulePaths[key.slice(1) | 0] : null;
        const run = kind === "run" ? key.slice(1) | 0 : null;
        // the node it shows: a node itself, else the first node it stands for
        item = { key, kind, node: v, module, run, count: 0, first: kind === "node" ? v : i, findings: [], nodes: [] };
        shown.set(key, item);
      }
      item.count += DATA.count[i];
      item.nodes.push(i);
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

  const isGroup = (key) => key[0] === "m" || key[0] === "g"; // a folded module or run

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

  function groupHead(item) {
    // the first line of a folded module's or run's label
    if (item.kind === "module") return "module " + item.module + (item.count > 1 ? " ×" + item.count : "");
    const size = RUNS[item.run].members.length;
    return `${runName(item.run)}\n${size} identical blocks, ${item.count} nodes`;
  }

  function statement(item) {
    if (isGroup(item.key)) {
      // shaded by its largest gradient norm, on the scale of the ops, its figures below
      item.figures = figures(item.nodes);
      const label = quote([groupHead(item), ...figureLines(item.figures)].join("\n"));
      const fill = item.figures.fill || "#eeeeee";
      const text = SHADING.dark.includes(fill) ? ' fontcolor="white"' : "";
      const rings = item.kind === "run" ? 3 : 2;
      return `${item.key} [label=${label} fillcolor="${fill}"${text} peripheries=${rings}${outline(item)}];`;
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
        : item.kind === "run" ? RUNS[item.run].parent
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

