// Changeflow's diagram viewer: bpmn-js's NavigatedViewer (pan and zoom, no editing), and the marks that
// show where a record stands. Each <figure class="diagram" data-diagram-url="..."> on a page fetches
// {bpmn, completed, active, waiting, focus} from that URL (the record's diagram.json) and draws it.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";

const MARKS = [["completed", "cf-completed"], ["waiting", "cf-waiting"], ["active", "cf-active"]];

async function show(figure) {
  const canvasElement = figure.querySelector(".diagram-canvas");
  canvasElement.textContent = "";
  const viewer = new NavigatedViewer({ container: canvasElement });
  try {
    const response = await fetch(figure.dataset.diagramUrl, { credentials: "same-origin",
                                                              headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`the diagram did not load (${response.status})`);
    const marks = await response.json();
    await viewer.importXML(marks.bpmn);
    const canvas = viewer.get("canvas");
    const registry = viewer.get("elementRegistry");
    for (const [key, marker] of MARKS) {
      for (const id of marks[key] || []) {
        if (registry.get(id)) canvas.addMarker(id, marker);
      }
    }
    if (marks.focus && registry.get(marks.focus)) canvas.addMarker(marks.focus, "cf-focus");
    canvas.zoom("fit-viewport", "auto");
    figure.dataset.ready = "true";  // the browser tests wait for this
  } catch (error) {
    canvasElement.textContent = `The diagram could not be shown: ${error.message}`;
    figure.dataset.ready = "error";
  }
}

function start() {
  document.querySelectorAll("figure.diagram[data-diagram-url]").forEach(show);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
