/*
 * The console's time-series charts (uPlot, served by the console itself): every element
 * <div class="chart" data-chart=NAME data-source=ID> is drawn from the JSON block
 * <script type="application/json" id=ID>, whose NAME entry is
 *   {"title": "...", "t": [unix seconds...], "series": [{"label": "...", "values": [...]}, ...]}
 * and whose "symbol" is the token the values are in. Data, never code: the content security
 * policy allows no inline script. The table after each chart holds the same numbers exactly.
 */
(function () {
  "use strict";

  var COLOURS = ["#555555", "#1f6feb", "#c2410c", "#15803d"];

  function read(id) {
    var el = document.getElementById(id);
    if (!el) return null;
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  function width(el) {
    return Math.max(280, Math.min(960, el.clientWidth || el.parentNode.clientWidth || 640));
  }

  function draw(el) {
    if (typeof uPlot === "undefined" || el.dataset.drawn) return;
    var doc = read(el.getAttribute("data-source"));
    var chart = doc && doc[el.getAttribute("data-chart")];
    if (!chart || !chart.t || chart.t.length === 0) return;
    el.dataset.drawn = "1";
    var data = [chart.t];
    var series = [{}];
    chart.series.forEach(function (s, i) {
      data.push(s.values);
      series.push({
        label: s.label,
        stroke: COLOURS[i % COLOURS.length],
        width: 2,
        paths: uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined,
        value: function (u, v) {
          return v == null ? "" : v.toLocaleString(undefined, { maximumFractionDigits: 2 }) +
            " " + (doc.symbol || "");
        }
      });
    });
    var plot = new uPlot({
      title: chart.title,
      width: width(el),
      height: 280,
      series: series,
      axes: [{}, { size: 80, values: function (u, vals) {
        return vals.map(function (v) { return v.toLocaleString(); });
      } }],
      scales: { x: { time: true } }
    }, data, el);
    window.addEventListener("resize", function () {
      plot.setSize({ width: width(el), height: 280 });
    });
  }

  function drawAll() {
    document.querySelectorAll(".chart[data-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", drawAll);
})();
