
  // ---- steps: a whole run's calls, one at a time --------------------------------------------------
  // DATA.steps (renderers/steps.py) holds every step's figures per node. The step control moves
  // through them: shading (one log scale for all steps), labels' gradient lines, the details
  // panel (through gradNow) and the legend follow it, in place, without a new layout. The flow
  // view draws each layer's gradient norm over the steps.

  if (DATA.steps) {
    const RUN = DATA.steps;
    const S = RUN.names.length;
    const W = RUN.figures.length;
    const [NORM, MIN, MAX, MEAN, BAD] = ["norm", "min", "max", "mean", "nonfinite"].map((f) => RUN.figures.indexOf(f));
    const floats = (text) => new Float32Array(Uint8Array.from(atob(text), (c) => c.charCodeAt(0)).buffer);
    const FIGS = floats(RUN.nodes);
    const fig = (s, i, f) => FIGS[(s * N + i) * W + f];
    const ABSENT = RUN.absent.map((list) => new Set(list));
    const DARK = new Set(RUN.dark);
    // folded modules and runs are shaded on the run's one scale too (data's shadeOf)
    if (RUN.scale) [SHADING.low, SHADING.high] = RUN.scale;
    const SVGNS = "http://www.w3.org/2000/svg";
    const stepsBar = document.getElementById("steps");
    const range = document.getElementById("step");
    const playButton = document.getElementById("play");
    let stepAt = S - 1; // the page opens at the last step
    let playing = null;
    let keyMembers = new Map(); // drawn key -> the nodes it stands for

    function fmtG(v) {
      // as renderers/labels.py fmt_float: Python's "{:.4g}"; NaN, Inf, -Inf; 0 for -0
      if (v === null || v === undefined) return "-";
      if (Number.isNaN(v)) return "NaN";
      if (!Number.isFinite(v)) return v > 0 ? "Inf" : "-Inf";
      if (v === 0) return "0";
      const [mantissa, exp] = v.toExponential(3).split("e");
      const e = Number(exp);
      if (e < -4 || e >= 4) {
        const m = mantissa.replace(/\.?0+$/, "");
        return `${m}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
      }
      return String(Number(v.toPrecision(4)));
    }

    function statsAt(s, i) {
      // node i's gradient at step s, as the details panel reads it; null: none at that step
      const bad = fig(s, i, BAD);
      if (Number.isNaN(bad)) return null;
      const value = (f) => (Number.isNaN(fig(s, i, f)) ? null : fig(s, i, f));
      const g = { norm: value(NORM), min: value(MIN), max: value(MAX), mean: value(MEAN), nan: bad, inf: 0 };
      const recorded = info(i).grad;
      if (recorded && recorded.shape) {
        g.shape = recorded.shape;
        if (recorded.shape.reduce((a, b) => a * b, 1) === 1 && g.mean !== null) g.values = [g.mean];
      }
      return g;
    }
    gradNow = (i) => statsAt(stepAt, i);

    function gradLine(g, returned) {
      // as renderers/labels.py grad_line
      const what = returned ? "autograd.grad" : "grad";
      if (g === null) return `${what}: none in this call`;
      if (g.values && g.values.length === 1) return `${what}=${fmtG(g.values[0])}`;
      let text = g.norm === null ? `${what}:` : `${what} ‖·‖=${fmtG(g.norm)}`;
      if (g.min !== null) text += ` [${fmtG(g.min)}, ${fmtG(g.max)}]`;
      if (g.nan) text += ` ${g.nan} NaN/Inf`;
      return text;
    }

    function fillAt(s, i) {
      // as renderers/style.py grad_shades on RUN.scale, leaves in their own ramp; null: keep it
      const kind = info(i).kind;
      if (isRoot[i] || (kind !== "op" && kind !== "leaf")) return null;
      const bad = fig(s, i, BAD), norm = fig(s, i, NORM);
      if (Number.isNaN(bad)) return RUN.plain[kind];
      if (bad > 0) return RUN.nonfinite;
      const ramp = kind === "leaf" ? RUN.leaf_ramp : RUN.ramp;
      if (!Number.isFinite(norm) || !RUN.scale) return ramp[0];
      return shadeOf(norm, ramp); // on RUN.scale: SHADING holds it on a run's page
    }

    function absentAt(s, key) {
      const gone = ABSENT[RUN.structure[s]];
      const list = keyMembers.get(key) || [];
      return list.length > 0 && list.every((i) => gone.has(i));
    }

    function shadeNode(g, item) {
      const i = item.kind === "rest" ? item.first : item.node;
      const fill = fillAt(stepAt, i);
      if (fill !== null) {
        const shapeEl = g.querySelector(":scope > path, :scope > polygon, :scope > ellipse");
        if (shapeEl) shapeEl.setAttribute("fill", fill);
        for (const t of g.querySelectorAll(":scope > text")) t.setAttribute("fill", DARK.has(fill) ? "white" : "#000000");
      }
      const line = [...g.querySelectorAll(":scope > text")].find((t) => /^(autograd\.)?grad[ =:]/.test(t.textContent));
      if (line) line.textContent = gradLine(statsAt(stepAt, i), info(i).grad_returned);
      const gone = absentAt(stepAt, item.key);
      g.classList.toggle("absent", gone);
      let note = g.querySelector(":scope > title.absent-note");
      if (gone && !note) {
        note = document.createElementNS(SVGNS, "title");
        note.setAttribute("class", "absent-note");
        note.textContent = "not in this call's graph";
        g.prepend(note);
      } else if (!gone && note) note.remove();
    }

    // Edges: the explorer draws no edge labels; an edge that stands for one edge of the graph
    // tells the gradient along it at this step in its tooltip and its data-grad.
    const ALONG = floats(RUN.edges);
    let edgeOf = new Map(); // drawn edge element -> the graph's edge it stands for

    function mapEdges() {
      edgeOf = new Map();
      const found = new Map(); // "a>b" -> graph edges between those drawn nodes
      for (let e = 0; e < src.length; e++) {
        const id = current.vg.keyOf[src[e]] + ">" + current.vg.keyOf[dst[e]];
        if (!found.has(id)) found.set(id, []);
        found.get(id).push(e);
      }
      for (const g of current.svg.querySelectorAll("g.edge[data-src]")) {
        const list = found.get(g.getAttribute("data-src") + ">" + g.getAttribute("data-dst")) || [];
        if (list.length === 1) edgeOf.set(g, list[0]);
      }
    }

    function labelEdges() {
      for (const [g, e] of edgeOf) {
        const v = ALONG[stepAt * src.length + e];
        let note = g.querySelector(":scope > title");
        if (!note) {
          note = document.createElementNS(SVGNS, "title");
          g.prepend(note);
        }
        const text = Number.isNaN(v) ? "none" : "‖·‖=" + fmtG(v);
        note.textContent = `gradient along this edge in call ${RUN.names[stepAt]}: ${text}`;
        g.setAttribute("data-grad", text);
      }
    }

    function shadeGroup(g, item) {
      // a folded module or run: its fill and figure lines (layout's statement) at this step
      const f = figures(item.nodes);
      const fill = f.fill || "#eeeeee";
      for (const shape of g.querySelectorAll(":scope > path, :scope > polygon, :scope > ellipse")) {
        if (shape.getAttribute("fill") !== "none") shape.setAttribute("fill", fill);
      }
      const lines = figureLines(f).filter((line) => line.startsWith("grad "));
      const texts = [...g.querySelectorAll(":scope > text")].filter((t) => /^grad (‖·‖ min|NaN)/.test(t.textContent));
      texts.forEach((t, k) => { t.textContent = k < lines.length ? lines[k] : ""; });
      for (const t of g.querySelectorAll(":scope > text")) t.setAttribute("fill", DARK.has(fill) ? "white" : "#000000");
    }

    function shadeDrawn() {
      if (!current) return;
      for (const [key, g] of current.elements) {
        const item = current.vg.shown.get(key);
        if (!item) continue;
        if (isGroup(key)) shadeGroup(g, item);
        else shadeNode(g, item);
      }
      labelEdges();
    }

    document.addEventListener("gradviz:drawn", () => {
      keyMembers = new Map();
      current.vg.keyOf.forEach((key, i) => {
        if (!keyMembers.has(key)) keyMembers.set(key, []);
        keyMembers.get(key).push(i);
      });
      mapEdges();
      shadeDrawn();
      flowDrawn();
    });

    // the legend: the run's one scale, and NaN/Inf when this step has any
    const legendLine = document.querySelector("footer .legend");
    const legendEntry = (colours, meaning) => {
      const entry = element("span");
      for (const colour of colours) {
        const swatch = element("span", undefined, "swatch");
        swatch.style.background = colour;
        entry.appendChild(swatch);
      }
      const text = element("span", meaning);
      entry.appendChild(text);
      legendLine.prepend(entry);
      return { entry, text };
    };
    const scaleText = RUN.scale ? `: ${fmtG(RUN.scale[0])} … ${fmtG(RUN.scale[1])}` : "";
    const legendBad = legendEntry([RUN.nonfinite], " NaN/Inf in this call");
    legendEntry(RUN.leaf_ramp, " leaf shaded by its .grad norm, same scale");
    const legendOps = legendEntry(RUN.ramp, "");
    legendOps.entry.id = "step-legend";
    function legendNow() {
      legendOps.text.textContent = ` op shaded by its gradient norm in call ${RUN.names[stepAt]} ` +
        `(log scale, one for all ${S} steps${scaleText})`;
      let bad = false;
      for (let i = 0; i < N && !bad; i++) bad = fig(stepAt, i, BAD) > 0;
      legendBad.entry.hidden = !bad;
    }

    // the step control
    const stepName = document.getElementById("step-name");
    function setStep(s) {
      stepAt = Math.min(Math.max(s | 0, 0), S - 1);
      range.value = String(stepAt);
      document.body.dataset.step = String(stepAt);
      const error = RUN.errors[String(stepAt)];
      stepName.textContent = `step ${stepAt + 1} of ${S} · call ${RUN.names[stepAt]}` +
        (error ? ` · backward raised ${error}` : "");
      shadeDrawn();
      legendNow();
      flowCursor();
      if (selected !== null && current) {
        const item = current.vg.shown.get(current.vg.keyOf[selected]);
        if (item) showDetails(item);
      }
      document.dispatchEvent(new CustomEvent("gradviz:step", { detail: { step: stepAt } }));
    }

    function play(on) {
      if (playing !== null) clearInterval(playing);
      playing = null;
      if (on) {
        if (stepAt >= S - 1) setStep(0);
        const every = Math.max(50, Math.min(500, 6000 / S));
        playing = setInterval(() => (stepAt >= S - 1 ? play(false) : setStep(stepAt + 1)), every);
      }
      playButton.textContent = on ? "❚❚" : "▶";
      playButton.setAttribute("aria-label", on ? "pause" : "play");
      document.body.dataset.playing = on ? "1" : "0";
    }

    range.max = String(S - 1);
    range.addEventListener("input", () => {
      play(false);
      setStep(range.valueAsNumber);
    });
    playButton.addEventListener("click", () => play(playing === null));
    const changes = document.getElementById("changes");
    for (const r of RUN.changes) {
      const mark = element("span", undefined, "change");
      mark.style.left = (S > 1 ? (100 * r) / (S - 1) : 0) + "%";
      mark.setAttribute("data-step", String(r));
      mark.title = `the graph changes at call ${RUN.names[r]}`;
      changes.appendChild(mark);
    }
    const stepNotes = [];
    if (RUN.every > 1) stepNotes.push(`one step in every ${RUN.every} of ${RUN.of.toLocaleString("en-US")} calls is shown`);
    if (RUN.changes.length) stepNotes.push(`the graph changes at ${RUN.changes.length === 1 ? "a step" : RUN.changes.length + " steps"} (marked)`);
    if (RUN.unkept) stepNotes.push(`${RUN.unkept} calls of further graph structures are not kept`);
    document.getElementById("step-note").textContent = stepNotes.join(" · ");

    document.addEventListener("keydown", (event) => {
      const t = event.target;
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (t instanceof HTMLInputElement && t !== range) return; // typing in the search box
      const onRange = t === range; // the range steps by itself with arrows, Home and End
      let to = null;
      if (event.key === "[" || (!onRange && event.key === "ArrowLeft")) to = stepAt - 1;
      else if (event.key === "]" || (!onRange && event.key === "ArrowRight")) to = stepAt + 1;
      else if (!onRange && event.key === "Home") to = 0;
      else if (!onRange && event.key === "End") to = S - 1;
      else if (event.key === " " && !(t instanceof HTMLButtonElement)) {
        event.preventDefault();
        play(playing === null);
        return;
      }
      if (to === null) return;
      event.preventDefault();
      play(false);
      setStep(to);
    });

    // a node's or a module's gradient norm over the steps, in its details
    const FLOW_ROWS = RUN.flow.rows;
    const FLOW = floats(RUN.flow.norms);
    function moduleNorms(path) {
      const rows = FLOW_ROWS.map((r, k) => k).filter((k) => FLOW_ROWS[k].kind === "module" &&
        (FLOW_ROWS[k].name === path || FLOW_ROWS[k].name.startsWith(path + ".")));
      if (!rows.length) return null;
      return Array.from({ length: S }, (_, s) => {
        let sum = 0, any = false;
        for (const k of rows) {
          const v = FLOW[k * S + s];
          if (!Number.isNaN(v)) { sum += v * v; any = true; }
        }
        return any ? Math.sqrt(sum) : NaN;
      });
    }

    function logScale(values, from, to) {
      // y of a positive finite value on a log axis from `from` (small) to `to` (large) pixels
      let small = Infinity, large = 0; // a loop: a long run's values are too many to spread
      for (const v of values) {
        if (v > 0 && Number.isFinite(v)) {
          small = Math.min(small, v);
          large = Math.max(large, v);
        }
      }
      if (!(large > 0)) return null;
      let lo = Math.floor(Math.log10(small)), hi = Math.ceil(Math.log10(large));
      if (hi === lo) { lo -= 1; hi += 1; }
      return { lo, hi, y: (v) => from + (Math.log10(v) - lo) / (hi - lo) * (to - from) };
    }

    function svgEl(tag, attrs, text) {
      const el = document.createElementNS(SVGNS, tag);
      for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
      if (text !== undefined) el.textContent = text;
      return el;
    }

    function linePath(values, x, y) {
      // "M x y L ..." through the values that are positive and finite, broken at the others
      let d = "", open = false;
      values.forEach((v, s) => {
        if (v > 0 && Number.isFinite(v)) {
          d += `${open ? "L" : "M"}${x(s).toFixed(1)} ${y(v).toFixed(1)} `;
          open = true;
        } else open = false;
      });
      return d.trim();
    }

    function sparkline(values, what) {
      const w = 240, h = 56, pad = 4;
      const scale = logScale(values, h - pad, pad);
      if (!scale) return null;
      const x = (s) => (S > 1 ? pad + (s * (w - 2 * pad)) / (S - 1) : w / 2);
      const svg = svgEl("svg", { class: "spark", width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img" });
      svg.setAttribute("aria-label", `${what} over the steps, log scale`);
      svg.append(svgEl("path", { d: linePath(values, x, scale.y), class: "line" }));
      const v = values[stepAt];
      svg.append(svgEl("line", { x1: x(stepAt), x2: x(stepAt), y1: 0, y2: h, class: "now" }));
      if (v > 0 && Number.isFinite(v)) svg.append(svgEl("circle", { cx: x(stepAt), cy: scale.y(v), r: 3, class: "now" }));
      const caption = element("div", undefined, "spark-caption");
      const hover = svgEl("line", { x1: 0, x2: 0, y1: 0, y2: h, class: "hover" });
      hover.style.display = "none";
      svg.append(hover);
      const say = (s) => {
        caption.textContent = `call ${RUN.names[s]} (step ${s + 1}): ‖·‖=${Number.isNaN(values[s]) ? "none" : fmtG(values[s])}`;
      };
      say(stepAt);
      svg.addEventListener("mousemove", (event) => {
        const r = svg.getBoundingClientRect();
        const s = S > 1 ? Math.round(((event.clientX - r.left - pad) / (r.width - 2 * pad)) * (S - 1)) : 0;
        const at = Math.min(Math.max(s, 0), S - 1);
        hover.setAttribute("x1", x(at));
        hover.setAttribute("x2", x(at));
        hover.style.display = "";
        say(at);
      });
      svg.addEventListener("mouseleave", () => {
        hover.style.display = "none";
        say(stepAt);
      });
      const box = element("div", undefined, "spark-box");
      const range10 = `1e${scale.lo} … 1e${scale.hi}`;
      box.append(element("h3", `${what} over the steps (log, ${range10})`), svg, caption);
      return box;
    }

    document.addEventListener("gradviz:details", (event) => {
      const item = event.detail.item;
      let values, what;
      if (item.kind === "module") {
        values = moduleNorms(item.module);
        what = "its parameters' gradient norm";
      } else {
        const i = item.kind === "rest" ? item.first : item.node;
        values = Array.from({ length: S }, (_, s) => (fig(s, i, BAD) > 0 ? Infinity : fig(s, i, NORM)));
        what = "gradient norm";
      }
      const box = values ? sparkline(values, what) : null;
      const table = details.querySelector(":scope > table");
      if (item.kind !== "module" && absentAt(stepAt, item.key)) {
        details.insertBefore(element("p", "not in this call's graph", "absent-note"), table);
      }
      if (box) details.insertBefore(box, table);
    });

    // the flow view: every layer's gradient norm over the steps
    const flowPanel = document.getElementById("flow");
    const flowToggle = document.getElementById("flow-toggle");
    const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
      "#7f7f7f", "#bcbd22", "#17becf"];
    const rowValues = (k) => Array.from({ length: S }, (_, s) => FLOW[k * S + s]);
    const rowLeaves = FLOW_ROWS.map((r) => {
      const found = [];
      for (let i = 0; i < N; i++) {
        if (info(i).kind !== "leaf") continue;
        if (r.kind === "module" ? moduleOf(i) === r.name : (info(i).name || ids[i]) === r.name) found.push(i);
      }
      return found;
    });
    let flowCursorLine = null;
    let flowX = null;
    let litRow = null;

    function rowElements(k) {
      // the drawn node or frame of row k's module, else of the folded module around it, else
      // the drawn nodes of its parameters
      if (!current) return [];
      const r = FLOW_ROWS[k];
      const byModule = (path) => [...current.svg.querySelectorAll("[data-module]")]
        .filter((g) => g.getAttribute("data-module") === path);
      if (r.kind === "module" && modules.has(r.name)) {
        const own = byModule(r.name);
        if (own.length) return own;
        const outer = outerFolded(r.name); // the key of the folded module or run around it
        if (outer !== null) return [current.elements.get(outer)].filter(Boolean);
      }
      const keys = new Set(rowLeaves[k].map((i) => current.vg.keyOf[i]));
      return [...keys].map((key) => current.elements.get(key)).filter(Boolean);
    }

    function lightRow(k) {
      litRow = k;
      for (const el of document.querySelectorAll(".lit")) el.classList.remove("lit");
      flowPanel.classList.toggle("hovering", k !== null);
      if (k === null) return;
      for (const el of rowElements(k)) el.classList.add("lit");
      for (const el of flowPanel.querySelectorAll(`[data-row="${k}"]`)) el.classList.add("lit");
    }

    function selectRow(k) {
      // select the row's module (its folded node), or its first parameter, opening the modules
      // folded around it
      const r = FLOW_ROWS[k];
      const first = rowLeaves[k][0];
      let home = r.kind === "module" && modules.has(r.name) ? modules.get(r.name).parent
        : (first === undefined || isRoot[first] ? null : moduleOf(first));
      let opened = false;
      for (; home !== null && home !== undefined; home = modules.get(home).parent) if (collapsed.delete(home)) opened = true;
      const go = () => {
        const node = rowElements(k).find((g) => g.matches("g.node"));
        const key = node ? node.getAttribute("data-key") : first === undefined ? null : current.vg.keyOf[first];
        if (key === null) return;
        select(key);
        centreOn(key);
        lightRow(k);
      };
      if (opened) relayout(() => rowElements(k)[0], go);
      else go();
    }

    function flowChart() {
      const w = 380, h = 240, left = 46, right = 8, top = 8, bottom = 22;
      const scale = logScale(FLOW, h - bottom, top);
      const svg = svgEl("svg", { class: "flow-chart", width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img" });
      svg.setAttribute("aria-label", "each layer's gradient norm over the steps, log scale");
      if (!scale) return svg;
      flowX = (s) => (S > 1 ? left + (s * (w - left - right)) / (S - 1) : (left + w - right) / 2);
      const axis = svgEl("g", { class: "axis" });
      const every = Math.ceil((scale.hi - scale.lo) / 8);
      for (let e = scale.lo; e <= scale.hi; e++) {
        const y = scale.y(10 ** e);
        axis.append(svgEl("line", { x1: left, x2: w - right, y1: y, y2: y, class: "grid" }));
        if ((e - scale.lo) % every === 0) {
          axis.append(svgEl("text", { x: left - 4, y: y + 3, "text-anchor": "end" }, e >= -2 && e <= 3 ? String(10 ** e) : `1e${e}`));
        }
      }
      axis.append(svgEl("text", { x: left, y: h - 6 }, `call ${RUN.names[0]}`));
      axis.append(svgEl("text", { x: w - right, y: h - 6, "text-anchor": "end" }, `call ${RUN.names[S - 1]}`));
      svg.append(axis);
      FLOW_ROWS.forEach((r, k) => {
        const values = rowValues(k);
        const g = svgEl("g", { class: "row", "data-row": k });
        const d = linePath(values, flowX, scale.y);
        g.append(svgEl("path", { d, class: "line", stroke: PALETTE[k % PALETTE.length] }));
        g.append(svgEl("path", { d, class: "hit" }));
        values.forEach((v, s) => {
          if (v === Infinity) g.append(svgEl("circle", { cx: flowX(s), cy: top, r: 3, class: "nonfinite" }));
        });
        g.append(svgEl("title", {}, r.name));
        g.addEventListener("mouseenter", () => lightRow(k));
        g.addEventListener("mouseleave", () => lightRow(null));
        g.addEventListener("click", () => selectRow(k));
        svg.append(g);
      });
      flowCursorLine = svgEl("line", { y1: top, y2: h - bottom, class: "now" });
      svg.append(flowCursorLine);
      return svg;
    }

    function flowList() {
      const list = element("ol", undefined, "flow-rows");
      const byName = FLOW_ROWS.map((r, k) => k)
        .sort((a, b) => FLOW_ROWS[a].name.localeCompare(FLOW_ROWS[b].name, "en", { numeric: true }));
      byName.forEach((k) => {
        const r = FLOW_ROWS[k];
        const entry = element("li");
        entry.setAttribute("data-row", String(k));
        entry.tabIndex = 0;
        entry.setAttribute("role", "button");
        const swatch = element("span", undefined, "swatch");
        swatch.style.background = PALETTE[k % PALETTE.length];
        entry.append(swatch, element("span", r.name, "name"), element("span", "", "value"));
        entry.title = `${r.kind === "module" ? "module" : "tensor"} ${r.name}, ${r.params} parameter${r.params === 1 ? "" : "s"}`;
        entry.addEventListener("mouseenter", () => lightRow(k));
        entry.addEventListener("mouseleave", () => lightRow(null));
        entry.addEventListener("focus", () => lightRow(k));
        entry.addEventListener("blur", () => lightRow(null));
        entry.addEventListener("click", () => selectRow(k));
        entry.addEventListener("keydown", (event) => {
          if (event.key === "Enter") selectRow(k);
        });
        list.append(entry);
      });
      return list;
    }

    function flowCursor() {
      if (flowCursorLine && flowX) {
        flowCursorLine.setAttribute("x1", flowX(stepAt));
        flowCursorLine.setAttribute("x2", flowX(stepAt));
      }
      for (const entry of flowPanel.querySelectorAll("li[data-row]")) {
        const v = FLOW[(entry.getAttribute("data-row") | 0) * S + stepAt];
        entry.querySelector(".value").textContent = Number.isNaN(v) ? "-" : fmtG(v);
      }
    }

    function flowDrawn() {
      if (litRow !== null) lightRow(litRow); // the new picture's elements
    }

    flowPanel.append(
      element("h2", "Gradient flow"),
      element("p", `Each layer's gradient norm over the ${S} steps (log scale); the line is the ` +
        "current step. Hover a layer to find it in the graph, click to select it.", "hint"),
      flowChart(),
      flowList(),
    );
    flowToggle.addEventListener("click", () => {
      flowPanel.hidden = !flowPanel.hidden;
      flowToggle.setAttribute("aria-pressed", String(!flowPanel.hidden));
    });
    if (!FLOW_ROWS.length) flowToggle.hidden = true;

    stepsBar.hidden = false;
    setStep(stepAt);
    play(false);
  }
