/* gradviz diff: one pane's side of the page holding it (renderers/diff_page.py). The explorer
 * tells what the user does as events on document; this passes them up to the page, and passes
 * down what the page asks ("gradviz:select", "gradviz:fold"). It also names the marks for
 * what they are: the differences from the other graph. */
"use strict";
(function () {
  if (window.parent === window) return;
  const up = (message) => window.parent.postMessage(message, "*");
  for (const type of ["gradviz:selected", "gradviz:module"]) {
    document.addEventListener(type, (event) => up({ type, ...event.detail }));
  }
  window.addEventListener("message", (event) => {
    const { type, ...detail } = event.data || {};
    if (event.source !== window.parent || (type !== "gradviz:select" && type !== "gradviz:fold")) return;
    document.dispatchEvent(new CustomEvent(type, { detail }));
  });
  // the page hears when the pane is laid out (tests and screenshots wait for both panes)
  const state = () => up({ type: "gradviz:state", state: document.body.dataset.state });
  new MutationObserver(state).observe(document.body, { attributes: true, attributeFilter: ["data-state"] });
  state();

  // a node's details list its marks under "finding(s)": they are differences here
  const details = document.getElementById("details");
  new MutationObserver(() => {
    for (const h of details.querySelectorAll("h3")) {
      if (h.textContent === "finding" || h.textContent === "findings") {
        h.textContent = h.textContent === "finding" ? "difference" : "differences";
      }
    }
  }).observe(details, { childList: true });

  const panel = document.getElementById("findings");
  const heading = panel.querySelector("h2"), summary = panel.querySelector(".summary");
  if (!heading || !summary) return;
  heading.textContent = "Differences";
  const count = {};
  for (const entry of panel.querySelectorAll(".finding[data-severity]")) {
    const what = entry.getAttribute("data-severity");
    count[what] = (count[what] || 0) + 1;
  }
  summary.textContent = ["added", "removed", "changed"].filter((what) => count[what])
    .map((what) => `${count[what]} ${what}`).join(", ") || "no differences";
})();
