// triage agent pages: Ctrl+Enter, copy buttons, queue refresh, confirmations.
// Served from 'self' only; the CSP forbids inline scripts.
(function () {
  "use strict";

  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      var form = document.getElementById("classify-form");
      if (form && form.contains(document.activeElement)) {
        event.preventDefault();
        form.requestSubmit();
      }
    }
  });

  // The pasted text survives a session that ended: kept in this tab until a result is shown.
  var DRAFT = "triage.draft";
  var form = document.getElementById("classify-form");
  var box = document.getElementById("text");
  if (form && box) {
    form.addEventListener("submit", function () {
      try { sessionStorage.setItem(DRAFT, box.value); } catch (e) { /* storage off: nothing kept */ }
    });
    try {
      if (document.getElementById("result")) sessionStorage.removeItem(DRAFT);
      else if (!box.value && sessionStorage.getItem(DRAFT)) {
        box.value = sessionStorage.getItem(DRAFT);
        sessionStorage.removeItem(DRAFT);
      }
    } catch (e) { /* storage off */ }
  }

  // A new result takes the focus (keyboard and screen-reader users land on it; aria-live announces it).
  var result = document.getElementById("result");
  if (result) result.focus();

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) return;
    var source = document.getElementById(button.dataset.copy);
    if (!source) return;
    var label = button.dataset.label || (button.dataset.label = button.textContent);
    var done = function () {
      button.textContent = "コピーしました";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    // A table goes out as tab-separated lines: pasted into a spreadsheet, each value lands in its cell.
    var text = source.tagName === "TABLE"
      ? Array.prototype.map.call(source.rows, function (row) {
          return Array.prototype.map.call(row.cells, function (cell) { return cell.textContent.trim(); }).join("\t");
        }).join("\n")
      : source.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
      return;
    }
    // Plain http on an intranet host has no Clipboard API: select and copy.
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    if (document.execCommand("copy")) done();
  });

  document.addEventListener("submit", function (event) {
    var message = event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // The queue refreshes itself so that webhook arrivals appear without a reload.
  var rows = document.getElementById("queue-rows");
  // Rows are updated in place, and not at all while the agent is in the list (focus or a
  // selection there): replacing innerHTML moved focus to <body> and cleared the selection.
  var busy = function () {
    if (rows.contains(document.activeElement)) return true;
    var selection = window.getSelection();
    return selection && !selection.isCollapsed && rows.contains(selection.anchorNode);
  };
  var update = function (html) {
    if (busy()) return;
    var fresh = document.createElement("tbody");
    fresh.innerHTML = html;
    var old = {};
    Array.prototype.forEach.call(rows.children, function (tr) { if (tr.dataset.id) old[tr.dataset.id] = tr; });
    var next = Array.prototype.slice.call(fresh.children);
    next.forEach(function (tr, i) {
      var kept = tr.dataset.id && old[tr.dataset.id];
      var node = kept && kept.isEqualNode(tr) ? kept : tr;
      if (rows.children[i] !== node) rows.insertBefore(node, rows.children[i] || null);
    });
    while (rows.children.length > next.length) rows.removeChild(rows.lastElementChild);
  };
  if (rows) {
    setInterval(function () {
      fetch(rows.dataset.refresh, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) {
          // A redirect means the session ended (logout, expiry): show the login
          // page instead of pasting it into the table.
          if (r.redirected) { window.location.reload(); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) { if (html !== null) update(html); })
        .catch(function () {});
    }, 3000);
  }

  // A training job's page reloads until the job ends.
  var job = document.getElementById("job");
  if (job && job.dataset.status === "running") {
    setInterval(function () {
      fetch(job.dataset.poll, { credentials: "same-origin" })
        .then(function (r) {
          if (r.redirected) { window.location.reload(); return Promise.reject(); }
          return r.json();
        })
        .then(function (state) {
          if (state.status !== "running") { window.location.reload(); return; }
          var p = job.querySelector("[data-testid=progress]");
          if (p) p.lastChild.textContent = " 学習中: " + state.progress;
        })
        .catch(function () {});
    }, 1000);
  }
})();
