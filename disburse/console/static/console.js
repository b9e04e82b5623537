/* The console's progressive enhancement (no inline scripts: the CSP forbids them).
 * - /live (server-sent events): on `ledger`, htmx's "ledger" event on <body>, so every live
 *   region (hx-trigger="ledger from:body") re-fetches its fragment; body[data-block] follows.
 * - the `tz` cookie: the browser's time zone, so the server writes times in it.
 * - <table data-sortable>: click (or Enter on) a column header to sort; cells may carry
 *   data-sort with the value to sort by (numbers compare as numbers, exactly for integers).
 * - <input data-filter-for=TABLE_ID>: shows only the rows containing the text.
 * - <span data-countdown="unix-ts">: a live countdown ("2d 03:04:05"; 日 in Japanese), class
 *   "ended" at zero; the server writes the same text first, so it reads without scripts.
 * - <select data-autosubmit>: the language switch posts its form on change.
 */
(function () {
  "use strict";

  function setTzCookie() {
    try {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (!zone || zone.length > 64) return;
      var current = document.cookie.split("; ").filter(function (c) { return c.indexOf("tz=") === 0; })[0];
      if (current !== "tz=" + encodeURIComponent(zone)) {
        document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=strict";
      }
    } catch (e) { /* no Intl: the server's default zone */ }
  }

  function live() {
    var body = document.body;
    if (!body.dataset.live || !window.EventSource) return;
    var source;
    function open() {
      var since = body.dataset.block ? "?since=" + encodeURIComponent(body.dataset.block) : "";
      source = new EventSource("/live" + since);
      source.addEventListener("open", function () { showLive(true); });
      source.addEventListener("ledger", function (event) {
        try {
          var data = JSON.parse(event.data);
          body.dataset.block = String(data.block);
        } catch (e) { return; }
        if (window.htmx) window.htmx.trigger(body, "ledger");
      });
      source.addEventListener("error", function () {
        showLive(false);
        if (source.readyState === EventSource.CLOSED) {
          setTimeout(open, 2000);
        }
      });
    }
    open();
  }

  function showLive(on) {
    document.querySelectorAll("[data-live-indicator]").forEach(function (el) { el.hidden = !on; });
  }

  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) return "";
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
  }

  var INTEGER = /^-?\d+$/;
  var NUMBER = /^-?\d+(\.\d+)?(e-?\d+)?$/i;

  function compare(a, b) {
    if (INTEGER.test(a) && INTEGER.test(b) && window.BigInt) {
      var x = BigInt(a), y = BigInt(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    if (NUMBER.test(a) && NUMBER.test(b)) return parseFloat(a) - parseFloat(b);
    return a.localeCompare(b);
  }

  function sortBy(table, th) {
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      var c = compare(cellValue(r1, index), cellValue(r2, index));
      return ascending ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  function sortable(root) {
    root.querySelectorAll("table[data-sortable]").forEach(function (table) {
      if (table.dataset.sortReady) return;
      table.dataset.sortReady = "1";
      table.querySelectorAll("thead th").forEach(function (th) {
        th.tabIndex = 0;
        th.classList.add("sortable");
        th.addEventListener("click", function () { sortBy(table, th); });
        th.addEventListener("keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, th); }
        });
      });
    });
  }

  function filterable(root) {
    root.querySelectorAll("input[data-filter-for]").forEach(function (input) {
      if (input.dataset.filterReady) return;
      input.dataset.filterReady = "1";
      input.addEventListener("input", function () { applyFilter(input); });
    });
  }

  function applyFilter(input) {
    var table = document.getElementById(input.getAttribute("data-filter-for"));
    if (!table || !table.tBodies[0]) return;
    var needle = input.value.trim().toLowerCase();
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      row.hidden = needle !== "" && row.textContent.toLowerCase().indexOf(needle) < 0;
    });
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  var DAYS = { en: "d ", ja: "日 " };

  function countdowns() {
    var now = Math.floor(Date.now() / 1000);
    var days = DAYS[document.body.dataset.lang] || DAYS.en;
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var end = parseInt(el.getAttribute("data-countdown"), 10);
      if (isNaN(end)) return;
      var left = Math.max(0, end - now);
      var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600);
      var m = Math.floor(left % 3600 / 60), s = left % 60;
      el.textContent = (d ? d + days : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
      el.classList.toggle("ended", left === 0);
    });
  }

  function autosubmit(root) {
    root.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      if (select.dataset.autoReady) return;
      select.dataset.autoReady = "1";
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  function enhance(root) {
    sortable(root);
    filterable(root);
    autosubmit(root);
    root.querySelectorAll("input[data-filter-for]").forEach(applyFilter);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    setTzCookie();
    enhance(document);
    countdowns();
    setInterval(countdowns, 1000);
    live();
    document.body.addEventListener("htmx:afterSettle", function (e) {
      enhance(e.target.parentNode || document);
      countdowns();
    });
  });
})();
