// The KPI dashboard's charts, drawn with Chart.js (vendored in vendor/chartjs) from the JSON the page embeds.
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("kpi-data");
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var m = data.metrics;
    var options = { responsive: true, maintainAspectRatio: false, animation: false };
    function chart(id, type, datasets, extra) {
      var canvas = document.getElementById(id);
      if (!canvas) { return; }
      var chartOptions = Object.assign({}, options, extra || {});
      canvas.chart = new Chart(canvas, { type: type, data: { labels: data.labels, datasets: datasets }, options: chartOptions });
      canvas.setAttribute("data-drawn", "true");
    }
    var stacked = { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } };
    if (data.practice === "change") {
      chart("chart-types", "bar", [
        { label: "normal", data: m.normal, backgroundColor: "#1f5fbf" },
        { label: "standard", data: m.standard, backgroundColor: "#1e7a3c" },
        { label: "emergency", data: m.emergency, backgroundColor: "#b3261e" }
      ], stacked);
      chart("chart-rates", "line", [
        { label: "success rate", data: m.success_rate, borderColor: "#1e7a3c" },
        { label: "standard ratio", data: m.standard_ratio, borderColor: "#1f5fbf" },
        { label: "emergency ratio", data: m.emergency_ratio, borderColor: "#b3261e" },
        { label: "rework rate", data: m.rework_rate, borderColor: "#9a5b00" }
      ], { scales: { y: { min: 0, max: 1 } } });
      chart("chart-lead-times", "bar", [
        { label: "to authorization, median", data: m.authorization_lead_time_median_hours, backgroundColor: "#7aa7e6" },
        { label: "to authorization, p90", data: m.authorization_lead_time_p90_hours, backgroundColor: "#1f5fbf" },
        { label: "to closure, median", data: m.closure_lead_time_median_hours, backgroundColor: "#9fd1ae" },
        { label: "to closure, p90", data: m.closure_lead_time_p90_hours, backgroundColor: "#1e7a3c" }
      ]);
    } else {
      if (m.deployed) {
        chart("chart-releases", "bar", [
          { label: "deployed", data: m.deployed, backgroundColor: "#1e7a3c" },
          { label: "rolled back", data: m.rolled_back, backgroundColor: "#b3261e" }
        ], stacked);
      }
      chart("chart-lead-times", "bar", [
        { label: "to closure, median", data: m.closure_lead_time_median_hours, backgroundColor: "#9fd1ae" },
        { label: "to closure, p90", data: m.closure_lead_time_p90_hours, backgroundColor: "#1e7a3c" }
      ]);
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
