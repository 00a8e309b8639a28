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
      if (item.kind === "run") g.setAttribute("data-run", runName(item.run));
      if (item.kind !== "node" || item.count > 1) g.classList.add("folded");
      if (item.findings.length) g.setAttribute("data-severity", FINDINGS[item.findings[0]].severity);
      const unit = isGroup(item.key) ? undefined : unitOf.get(item.kind === "rest" ? item.node : rep[item.first]);
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

  function figureRows(table, f) {
    // a folded thing's figures (data's figures()), as rows of its details
    const of = `${f.count} op${f.count === 1 ? "" : "s"}`;
    if (f.count) row(table, "grad ‖·‖", `min ${number(f.min)} · median ${number(f.median)} · max ${number(f.max)} (${of})`);
    if (f.bad) row(table, "NaN/Inf", `in the gradients of ${f.bad} op${f.bad === 1 ? "" : "s"}`);
    if (f.saved !== null) row(table, "saved, in all", bytes(f.saved));
  }

