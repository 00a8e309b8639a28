  // ---- interact ---------------------------------------------------------------------------------

  let selected = null; // a model node index
  let hits = []; // the nodes matching the search, in the order listed
  let at = -1; // the one chosen last, in hits
  let active = -1; // the one the arrow keys point at in the list
  const search = document.getElementById("search");
  const results = document.getElementById("results");

  function relayout(focus, then) {
    // focus: () => the drawn element to centre the new picture on, at the zoom of the old;
    // then: what to do once it is drawn
    document.body.dataset.state = "layout";
    status.textContent = "laying out…";
    // let the status paint before Graphviz holds the thread
    requestAnimationFrame(() => setTimeout(() => {
      try {
        draw(visibleGraph(), focus);
        markMatches();
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
    // select and centre the finding's first node, opening what hides it
    const i = FINDINGS[k].nodes[0];
    if (i === undefined) return;
    for (const el of document.querySelectorAll("#findings .finding")) {
      el.classList.toggle("active", el.getAttribute("data-finding") === String(k));
    }
    showNode(i);
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
    if (collapsed.has(path)) openModule(path);
    else {
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
    for (const k of unitKept.get(u)) notePartly(k);
    relayout(() => unitNode(u));
  }

  function notePartly(k) {
    // kept node k is partly unfolded when some, not all, of the nodes it stands for are shown
    if (members.get(k).some((j) => revealed[j]) && members.get(k).some((j) => !revealed[j])) partly.add(k);
    else partly.delete(k);
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

  // Search: every node of the graph, drawn or folded away. The matching nodes are listed by
  // module; choosing one opens what hides it, centres it and selects it.
  const RESULTS_SHOWN = 500; // the list shows the first ones; the count is of all
  const byPath = new Intl.Collator("en", { numeric: true }).compare; // h.2 before h.10

  function matcher(query) {
    // a test of a node's text (texts[], lower case) for `query`: a regular expression,
    // case-insensitive, ^ and $ at each field; the plain text if it is not a valid one
    const q = query.trim();
    if (!q) return null;
    try {
      const re = new RegExp(q, "im");
      return (text) => re.test(text);
    } catch (error) {
      const plain = q.toLowerCase();
      return (text) => text.includes(plain);
    }
  }

  function groupOf(i) {
    // the module a result is listed under: its own; for a parameter outside any, the module
    // its name says it belongs to; "" for none
    const path = moduleOf(i), name = info(i).name;
    if (path !== null || !name) return path || "";
    for (let cut = name.lastIndexOf("."); cut > 0; cut = name.lastIndexOf(".", cut - 1)) {
      if (modules.has(name.slice(0, cut))) return name.slice(0, cut);
    }
    return "";
  }

  function runSearch() {
    const test = matcher(search.value);
    hits = [];
    if (test) for (let i = 0; i < N; i++) if (test(texts[i])) hits.push(i);
    // grouped by module (nodes outside any module last), in node order inside a group
    const groups = new Map(hits.map((i) => [i, groupOf(i)]));
    const rank = new Map([...new Set(groups.values())]
      .sort((a, b) => (!a - !b) || byPath(a, b)).map((path, k) => [path, k]));
    hits.sort((a, b) => rank.get(groups.get(a)) - rank.get(groups.get(b)) || a - b);
    at = active = -1;
    listResults(groups);
    if (current) markMatches();
  }

  function listResults(groups) {
    // groups: node -> the module it is listed under
    results.replaceChildren();
    results.hidden = !search.value.trim();
    if (!hits.length) return;
    const count = new Set(groups.values()).size;
    results.appendChild(element("p", `${hits.length.toLocaleString("en-US")} nodes in ` +
      `${count.toLocaleString("en-US")} ${count === 1 ? "group" : "groups"}`, "summary"));
    let group = null, list = null;
    hits.slice(0, RESULTS_SHOWN).forEach((i, k) => {
      const path = groups.get(i);
      if (path !== group) {
        group = path;
        list = element("div", undefined, "group");
        list.appendChild(element("div", path || "outside modules", "module"));
        results.appendChild(list);
      }
      const entry = element("div", undefined, "result");
      entry.setAttribute("data-result", ids[i]);
      entry.setAttribute("data-hit", String(k));
      entry.setAttribute("role", "option");
      entry.append(element("span", info(i).look[3], "label"), " ", element("span", ids[i], "id"));
      list.appendChild(entry);
    });
    if (hits.length > RESULTS_SHOWN) {
      const more = (hits.length - RESULTS_SHOWN).toLocaleString("en-US");
      results.appendChild(element("p", `and ${more} more: narrow the search to list them`, "more"));
    }
  }

  function markMatches() {
    // ring the drawn nodes holding a match; count them all
    for (const el of current.svg.querySelectorAll(".match, .current")) el.classList.remove("match", "current");
    for (const key of new Set(hits.map((i) => current.vg.keyOf[i]))) {
      const el = current.elements.get(key);
      if (el) el.classList.add("match");
    }
    const found = document.getElementById("found");
    if (!search.value.trim()) found.textContent = "";
    else if (!hits.length) found.textContent = "no match";
    else found.textContent = at >= 0 ? `${at + 1} of ${hits.length}` : `${hits.length} found`;
    const chosen = at >= 0 ? current.elements.get(current.vg.keyOf[hits[at]]) : null;
    if (chosen) chosen.classList.add("current");
  }

  function pointAt(k) {
    // the result the arrow keys point at in the list
    active = k;
    for (const el of results.querySelectorAll(".active")) el.classList.remove("active");
    const entry = results.querySelector(`[data-hit="${k}"]`);
    if (entry) {
      entry.classList.add("active");
      entry.scrollIntoView({ block: "nearest" });
    }
  }

  function choose(k) {
    at = k;
    pointAt(k);
    markMatches();
    showNode(hits[k]);
  }

  function step(by) {
    if (!hits.length) return;
    choose(((at < 0 ? (by > 0 ? -1 : 0) : at) + by + hits.length) % hits.length);
  }

  function openModule(path) {
    // as a click opens it: a big module opens with its submodules folded
    collapsed.delete(path);
    if (modules.get(path).size > MODULE_OPENS_WHOLE) {
      for (const child of modules.get(path).children) collapsed.add(child);
    }
  }

  function openAround(i) {
    // draw node i by itself: reveal it out of the ×N node it is folded into, open the modules
    // folded around it; true if the picture changes
    const changed = foldedInto(i) !== i;
    if (changed) {
      revealed[i] = 1;
      notePartly(rep[i]);
    }
    let key = visibleGraph().keyOf[i];
    if (!isGroup(key)) return changed;
    for (; isGroup(key); key = visibleGraph().keyOf[i]) {
      if (key[0] === "g") openRun(key.slice(1) | 0);
      else openModule(modulePaths[key.slice(1) | 0]);
    }
    return true;
  }

  function showNode(i) {
    // select node i and centre it, opening what hides it
    const go = () => {
      const key = current.vg.keyOf[i];
      select(key);
      centreOn(key);
    };
    if (openAround(i)) relayout(() => current.elements.get(current.vg.keyOf[i]), go);
    else go();
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

  search.addEventListener("input", runSearch);
  search.addEventListener("focus", () => { results.hidden = !search.value.trim(); });
  search.addEventListener("keydown", (event) => {
    const listed = Math.min(hits.length, RESULTS_SHOWN);
    if (event.key === "Enter") {
      // the result the arrows point at, else the next (Shift: the previous)
      event.preventDefault();
      if (active >= 0 && active !== at && !event.shiftKey) choose(active);
      else step(event.shiftKey ? -1 : 1);
    } else if ((event.key === "ArrowDown" || event.key === "ArrowUp") && listed) {
      event.preventDefault();
      results.hidden = false;
      pointAt(((active < 0 ? (event.key === "ArrowDown" ? -1 : 0) : active) +
        (event.key === "ArrowDown" ? 1 : -1) + listed) % listed);
    } else if (event.key === "Escape") results.hidden = true;
  });
  results.addEventListener("click", (event) => {
    const entry = event.target.closest("[data-hit]");
    if (entry) choose(entry.getAttribute("data-hit") | 0);
  });
  document.getElementById("next").addEventListener("click", () => step(1));
  document.getElementById("prev").addEventListener("click", () => step(-1));
  document.getElementById("fit").addEventListener("click", fit);
  document.addEventListener("keydown", (event) => {
    const typing = event.target instanceof Element && event.target.closest("input, select, textarea");
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
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
