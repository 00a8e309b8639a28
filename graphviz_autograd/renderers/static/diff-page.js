/* gradviz diff: the page holding two explorers, graph A and graph B (renderers/diff_page.py).
 * It puts each pane's document together (the layout library is in the page once), and syncs
 * them: a node selected in one selects its matched node in the other, a module folded or opened
 * in one is in the other. Names are data: text reaches the DOM only through textContent. */
"use strict";
(function () {
  const DIFF = JSON.parse(document.getElementById("gradviz-diff").textContent);
  const library = document.getElementById("gradviz-viz").textContent;
  const sides = ["a", "b"];
  const frames = { a: document.getElementById("pane-a"), b: document.getElementById("pane-b") };
  const other = { a: "b", b: "a" };
  const match = { a: new Map(), b: new Map() }; // a node's id in one graph -> its match's in the other
  for (const [x, y] of DIFF.matched) {
    match.a.set(x, y);
    match.b.set(y, x);
  }
  const sync = document.getElementById("sync");
  const paired = document.getElementById("paired");
  const states = { a: "loading", b: "loading" };

  function send(side, message) {
    frames[side].contentWindow.postMessage(message, "*");
  }

  function selected(side, id) {
    // id: the node selected in pane `side`, or null for none
    const there = id === null ? null : match[side].get(id);
    document.body.dataset.selectedA = (side === "a" ? id : there) || "";
    document.body.dataset.selectedB = (side === "b" ? id : there) || "";
    if (id === null) paired.textContent = "";
    else if (there === undefined) {
      paired.textContent = `${side.toUpperCase()} ${id}: no match in ${other[side].toUpperCase()} ` +
        `(${side === "a" ? "removed" : "added"})`;
    } else {
      const [a, b] = side === "a" ? [id, there] : [there, id];
      paired.textContent = `A ${a} ↔ B ${b}`;
    }
    if (sync.checked) send(other[side], { type: "gradviz:select", id: there === undefined ? null : there });
  }

  window.addEventListener("message", (event) => {
    const side = sides.find((s) => frames[s].contentWindow === event.source);
    const message = event.data || {};
    if (side === undefined) return;
    if (message.type === "gradviz:selected") selected(side, message.id);
    else if (message.type === "gradviz:module" && sync.checked) {
      send(other[side], { type: "gradviz:fold", path: message.path, folded: message.folded });
    } else if (message.type === "gradviz:state") {
      states[side] = message.state;
      const all = new Set(sides.map((s) => states[s]));
      document.body.dataset.state = all.size === 1 ? states.a : all.has("error") ? "error" : "loading";
    }
  });

  for (const side of sides) frames[side].srcdoc = DIFF[side][0] + library + DIFF[side][1];
})();
