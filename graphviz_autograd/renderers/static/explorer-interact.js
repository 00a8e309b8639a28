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
        // hook: a new picture is drawn (what decorates it, e.g. a run's step, does so again)
        document.dispatchEvent(new CustomEvent("gradviz:drawn"));
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
    } else if (item.kind === "run") {
      actions.appendChild(button("open blocks", "open", () => toggleRun(item.run)));
      details.appendChild(element("p", `${RUNS[item.run].members.length} identical blocks, ` +
        `${item.count} nodes inside; the first of them:`));
    }
    const kept = item.kind === "rest" ? item.node : rep[i];
    const u = unitOf.get(kept);
    if (u !== undefined && !isGroup(item.key)) {
      const order = unfoldOrder(u);
      const hidden = order.filter((j) => !revealed[j]).length;
      if (hidden) actions.appendChild(button(`unfold (${Math.min(hidden, UNFOLD_STEP)} more)`, "unfold", () => unfold(u)));
      if (hidden < order.length) actions.appendChild(button("fold back", "fold", () => foldBack(u)));
    }
    const home = item.kind === "module" ? item.module : moduleOf(item.node);
    if (home !== null && !isGroup(item.key) && !isRoot[item.node]) {
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
    if (item.count > 1) figureRows(t, figures(item.nodes));
    row(t, "module", d.module);
    if (d.source) {
      const code = element("code", d.source.code);
      const where = element("span", `${d.source.file}:${d.source.line}`);
      const both = element("div");
      both.append(where, element("br"), code);
      row(t, "source", both);
    }
    if (d.kind === "saved") row(t, "freed", d.freed);
    row(t, "grad", gradNow(i) ? statsTable(gradNow(i)) : (d.kind === "leaf" ? "None (no backward yet)" : null));
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
    // hook: the details of `item` are shown (what adds to them, e.g. a run's chart, does so)
    document.dispatchEvent(new CustomEvent("gradviz:details", { detail: { item } }));
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
      if (runOf.has(path) && openRun(runOf.get(path))) opened = true;
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
    if (item.kind === "run") return `${runName(item.run)}, ${RUNS[item.run].members.length} identical blocks, ${item.count} nodes`;
    return info(item.kind === "rest" ? item.first : item.node).look[3] + (item.count > 1 || item.kind === "rest" ? " ×" + item.count : "");
  }

  function select(key, quiet) {
    const item = current.vg.shown.get(key);
    if (!item) return;
    selected = item.first;
    highlight(key);
    showDetails(item);
    if (!quiet) tell("gradviz:selected", { id: ids[selected] });
  }

  const hint = [...details.childNodes];
  function unselect(quiet) {
    selected = null;
    highlight(null);
    details.replaceChildren(...hint);
    if (!quiet) tell("gradviz:selected", { id: null });
  }

  function toggleModule(path, quiet) {
    if (collapsed.has(path)) {
      collapsed.delete(path);
      if (modules.get(path).size > MODULE_OPENS_WHOLE) {
        for (const child of modules.get(path).children) collapsed.add(child);
      }
    } else {
      collapsed.add(path);
      for (const other of [...collapsed]) if (other.startsWith(path + ".")) collapsed.delete(other);
      for (const k of [...collapsedRuns]) if (RUNS[k].members[0].startsWith(path + ".")) collapsedRuns.delete(k);
    }
    if (!quiet) tell("gradviz:module", { path, folded: collapsed.has(path) });
    // the folded module's node, or the open module's frame
    relayout(() => [...current.svg.querySelectorAll("[data-module]")]
      .find((g) => g.getAttribute("data-module") === path));
  }

  function toggleRun(k) {
    // a folded run opens as its blocks, each folded; a block opens by itself
    if (!openRun(k)) {
      collapsedRuns.add(k);
      for (const path of RUNS[k].members) collapsed.delete(path);
    }
    relayout(() => [...current.svg.querySelectorAll("[data-run], [data-module]")]
      .find((g) => g.getAttribute("data-run") === runName(k) || g.getAttribute("data-module") === RUNS[k].members[0]));
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
      if (node.hasAttribute("data-run")) toggleRun(current.vg.shown.get(node.getAttribute("data-key")).run);
      else if (node.hasAttribute("data-module")) toggleModule(node.getAttribute("data-module"));
      else select(node.getAttribute("data-key"));
      return;
    }
    const frame = event.target.closest("g.cluster[data-module]");
    if (frame) toggleModule(frame.getAttribute("data-module"));
    else unselect();
  });
  canvas.addEventListener("dblclick", (event) => {
    const node = event.target.closest("g.node.folded[data-key]");
    if (!node || node.hasAttribute("data-module") || node.hasAttribute("data-run")) return;
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
    // the deepest module level at which the picture has at most OPEN_UP_TO nodes: with the
    // runs of identical modules of that level as their members, or else each as one node
    const count = () => new Set(visibleGraph().keyOf).size;
    if (!modulePaths.length || count() <= OPEN_UP_TO) return;
    const deepest = Math.max(...modulePaths.map((p) => modules.get(p).depth));
    for (let depth = deepest; depth >= 0; depth--) {
      collapsed.clear();
      collapsedRuns.clear();
      for (const p of modulePaths) if (modules.get(p).depth === depth) collapsed.add(p);
      if (count() <= OPEN_UP_TO) return;
      RUNS.forEach((run, k) => { if (modules.get(run.members[0]).depth === depth) collapsedRuns.add(k); });
      if (collapsedRuns.size && count() <= OPEN_UP_TO) return;
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

  // ---- a page that holds this one (a diff's two panes) -------------------------------------------
  // It hears what the user does here as events on document, "gradviz:selected" {id} (null: none)
  // and "gradviz:module" {path, folded}, and sends "gradviz:select" {id} and "gradviz:fold"
  // {path, folded} back; what it asks is done quietly (not told back).

  function tell(type, detail) {
    document.dispatchEvent(new CustomEvent(type, { detail }));
  }

  const indexOf = new Map(ids.map((id, i) => [id, i]));
  document.addEventListener("gradviz:select", (event) => {
    const i = indexOf.get(event.detail.id);
    if (!current || i === undefined) {
      if (current) unselect(true);
      return;
    }
    let opened = false; // the modules folded around it open
    for (let path = isRoot[i] ? null : moduleOf(i); path !== null; path = modules.get(path).parent) {
      if (collapsed.delete(path)) opened = true;
    }
    const show = () => {
      select(current.vg.keyOf[i], true);
      centreOn(current.vg.keyOf[i]);
    };
    if (opened) relayout(() => current.elements.get(current.vg.keyOf[i]), show);
    else show();
  });
  document.addEventListener("gradviz:fold", (event) => {
    const { path, folded } = event.detail;
    if (current && modules.has(path) && collapsed.has(path) !== folded) toggleModule(path, true);
  });

  document.body.dataset.state = "loading";
  Viz.instance().then((instance) => {
    viz = instance;
    openModulesFolded();
    relayout();
  }, (error) => {
    status.textContent = "cannot start Graphviz: " + error;
    document.body.dataset.state = "error";
  });
