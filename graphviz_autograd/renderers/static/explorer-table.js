  // ---- table: the graph's nodes (or its modules) as rows, sortable and filterable ------------------

  // Rows are node indices, or module indices (in modulePaths) when the table lists modules. Only
  // the first TABLE_ROWS_SHOWN rows of the sorted, filtered list get DOM; the figures under the
  // numeric columns (min, max, mean) are over every listed row.
  const TABLE_ROWS_SHOWN = 200;
  const tablePanel = document.getElementById("table");
  const tableToggle = document.getElementById("table-toggle");
  const tableFilter = document.getElementById("table-filter");
  const tableKind = document.getElementById("table-rows");
  const tableBody = tablePanel.querySelector("tbody");
  const tableFoot = tablePanel.querySelector("tfoot");
  const tableCount = document.getElementById("table-count");
  const COLUMNS = [ // key, title, numeric
    ["id", "id", false], ["name", "name", false], ["op", "op", false], ["module", "module", false],
    ["grad", "grad norm", true], ["order", "order", true], ["saved", "saved bytes", true],
  ];
  const sorting = { column: null, descending: false }; // null: in the graph's order

  function figure(v) {
    // a JSON number of a summary ("nan", "inf" and "-inf" are strings there) as a number;
    // NaN where there is none
    if (typeof v === "number") return v;
    return v === "inf" ? Infinity : v === "-inf" ? -Infinity : NaN;
  }

  // the bytes a node's saved tensors keep alive (html.py's saved_of); NaN: none recorded
  const savedBytes = (i) => (info(i).saved ? DATA.saved_of[i] : NaN);
  const nodeColumns = {
    id: (i) => ids[i],
    name: (i) => info(i).name || "",
    op: (i) => info(i).op || info(i).kind,
    module: (i) => moduleOf(i) || "",
    grad: (i) => (gradNow(i) ? figure(gradNow(i).norm) : NaN),
    order: (i) => (DATA.order[i] === null ? NaN : DATA.order[i]),
    saved: savedBytes,
  };

  function moduleFigures() {
    // per module (in modulePaths): its nodes' largest gradient norm, summed saved bytes and
    // first order in backward
    const M = modulePaths.length;
    const grad = new Float64Array(M).fill(NaN), saved = new Float64Array(M).fill(NaN);
    const order = new Float64Array(M).fill(NaN);
    const most = (a, v) => (Number.isNaN(a) || v > a ? v : a);
    for (let i = 0; i < N; i++) {
      const g = nodeColumns.grad(i), s = savedBytes(i), o = nodeColumns.order(i);
      for (let path = moduleOf(i); path !== null; path = modules.get(path).parent) {
        const m = modules.get(path).index;
        if (!Number.isNaN(g)) grad[m] = most(grad[m], g);
        if (!Number.isNaN(s)) saved[m] = (Number.isNaN(saved[m]) ? 0 : saved[m]) + s;
        if (!Number.isNaN(o)) order[m] = Number.isNaN(order[m]) ? o : Math.min(order[m], o);
      }
    }
    return { grad, saved, order };
  }

  function tableRows() {
    // the rows listed now: their cells' values, filtered and sorted
    const asModules = tableKind.value === "modules";
    const count = asModules ? modulePaths.length : N;
    let cells;
    if (asModules) {
      const f = moduleFigures();
      const parent = (m) => modules.get(modulePaths[m]).parent || "";
      cells = {
        id: () => "", name: (m) => modulePaths[m], module: parent,
        op: (m) => `module (${modules.get(modulePaths[m]).size} nodes)`,
        grad: (m) => f.grad[m], order: (m) => f.order[m], saved: (m) => f.saved[m],
      };
    } else cells = nodeColumns;
    const test = matcher(tableFilter.value);
    const text = asModules ? (m) => modulePaths[m].toLowerCase() : (i) => texts[i];
    const rows = [];
    for (let r = 0; r < count; r++) if (!test || test(text(r))) rows.push(r);
    const values = {};
    for (const [key, , numeric] of COLUMNS) {
      if (!numeric) continue;
      values[key] = new Float64Array(count).fill(NaN);
      for (const r of rows) values[key][r] = cells[key](r);
    }
    if (sorting.column !== null) sortRows(rows, sorting.column, values[sorting.column] || cells[sorting.column]);
    return { asModules, rows, cells, values };
  }

  function sortRows(rows, column, values) {
    // numbers: none (NaN) last either way; text: h.2 before h.10; ties in the graph's order
    const sign = sorting.descending ? -1 : 1;
    let compare;
    if (values instanceof Float64Array) {
      compare = (a, b) => {
        const x = values[a], y = values[b];
        if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) - Number.isNaN(y) || a - b;
        return sign * (x - y) || a - b;
      };
    } else {
      const text = rows.map((r) => values(r));
      const at = new Map(rows.map((r, k) => [r, k]));
      compare = (a, b) => sign * byPath(text[at.get(a)], text[at.get(b)]) || a - b;
    }
    rows.sort(compare);
  }

  const figureText = (v) => (Number.isInteger(v) ? v.toLocaleString("en-US") : number(v));

  function cellText(table, key, r) {
    if (!(key in table.values)) return table.cells[key](r);
    const v = table.values[key][r];
    if (!Number.isNaN(v)) return figureText(v);
    const norm = key === "grad" && !table.asModules && gradNow(r) ? gradNow(r).norm : null;
    return typeof norm === "string" ? norm : ""; // a NaN norm, else none
  }

  function renderTable() {
    if (tablePanel.hidden) return;
    const table = tableRows();
    const shown = table.rows.slice(0, TABLE_ROWS_SHOWN);
    tableBody.replaceChildren(...shown.map((r) => {
      const tr = document.createElement("tr");
      tr.setAttribute(table.asModules ? "data-row-module" : "data-row", table.asModules ? modulePaths[r] : ids[r]);
      tr.setAttribute("data-index", String(r));
      for (const [key, , numeric] of COLUMNS) tr.appendChild(element("td", cellText(table, key, r), numeric ? "num" : key));
      return tr;
    }));
    const total = table.rows.length.toLocaleString("en-US");
    tableCount.textContent = table.rows.length > TABLE_ROWS_SHOWN
      ? `showing ${TABLE_ROWS_SHOWN} of ${total} rows; filter to narrow` : `${total} rows`;
    tableFoot.replaceChildren(...["min", "max", "mean"].map((what) => {
      const tr = document.createElement("tr");
      tr.appendChild(element("th", what));
      const blank = element("td"); // under the text columns but the first
      blank.colSpan = COLUMNS.filter((c) => !c[2]).length - 1;
      tr.appendChild(blank);
      for (const [key, , numeric] of COLUMNS) if (numeric) tr.appendChild(statCell(table, key, what));
      return tr;
    }));
  }

  function statCell(table, key, what) {
    // min, max or mean of a column over all listed rows that have a value (NaN left out)
    let low = Infinity, high = -Infinity, sum = 0, n = 0;
    for (const r of table.rows) {
      const v = table.values[key][r];
      if (Number.isNaN(v)) continue;
      low = Math.min(low, v);
      high = Math.max(high, v);
      sum += v;
      n += 1;
    }
    const v = !n ? null : what === "min" ? low : what === "max" ? high : sum / n;
    const td = element("td", v === null ? "" : figureText(v), "num");
    td.setAttribute("data-stat", what);
    td.setAttribute("data-column", key);
    if (v !== null) td.setAttribute("data-value", String(v));
    return td;
  }

  function showModule(path) {
    // a module's row: its folded node selected, or its frame centred, opening what holds it
    for (let up = modules.get(path).parent; up !== null; up = modules.get(up).parent) collapsed.delete(up);
    const frame = () => (collapsed.has(path) ? current.elements.get("m" + modules.get(path).index)
      : [...current.svg.querySelectorAll("g.cluster[data-module]")].find((g) => g.getAttribute("data-module") === path));
    relayout(frame, () => { // an open module's frame is centred at the zoom the picture had
      const key = "m" + modules.get(path).index;
      if (!collapsed.has(path) || !current.elements.has(key)) return;
      select(key);
      centreOn(key);
    });
  }

  const headRow = tablePanel.querySelector("thead tr");
  for (const [key, title, numeric] of COLUMNS) {
    const th = element("th", title, numeric ? "num" : undefined);
    th.setAttribute("data-column", key);
    th.title = "sort by " + title;
    headRow.appendChild(th);
  }
  headRow.addEventListener("click", (event) => {
    const th = event.target.closest("th[data-column]");
    if (!th) return;
    const key = th.getAttribute("data-column");
    const numeric = COLUMNS.find((c) => c[0] === key)[2];
    // a first click sorts numbers biggest first, text A to Z; the next one turns it round
    sorting.descending = sorting.column === key ? !sorting.descending : numeric;
    sorting.column = key;
    for (const other of headRow.children) other.removeAttribute("aria-sort");
    th.setAttribute("aria-sort", sorting.descending ? "descending" : "ascending");
    renderTable();
  });
  tableBody.addEventListener("click", (event) => {
    const tr = event.target.closest("tr");
    if (!tr || !current) return;
    for (const el of tableBody.querySelectorAll("tr.chosen")) el.classList.remove("chosen");
    tr.classList.add("chosen");
    if (tr.hasAttribute("data-row-module")) showModule(tr.getAttribute("data-row-module"));
    else showNode(tr.getAttribute("data-index") | 0);
  });
  tableToggle.addEventListener("click", () => {
    tablePanel.hidden = !tablePanel.hidden;
    tableToggle.setAttribute("aria-pressed", String(!tablePanel.hidden));
    renderTable();
  });
  tableFilter.addEventListener("input", renderTable);
  tableKind.addEventListener("change", renderTable);
  document.addEventListener("gradviz:step", renderTable); // a whole run's page: the step shown
