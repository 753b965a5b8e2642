// The decision table editor (dmn-js), loaded when the Decisions tab opens: it edits the DMN documents the
// modeler deploys with the diagram (window.changeflowStudio.decisions).
import DmnModeler from "dmn-js/lib/Modeler";
import "dmn-js/dist/assets/dmn-js-shared.css";
import "dmn-js/dist/assets/dmn-js-decision-table.css";
import "dmn-js/dist/assets/dmn-js-decision-table-controls.css";
import "dmn-js/dist/assets/dmn-font/css/dmn.css";

async function openDecision(root, studio, index) {
  const container = root.querySelector(".dmn-canvas");
  container.textContent = "";
  const modeler = new DmnModeler({ container });
  await modeler.importXML(studio.decisions[index]);
  const table = modeler.getViews().find((view) => view.type === "decisionTable");
  if (table) await modeler.open(table);
  // Every edit goes straight back into the documents the studio checks and deploys.
  const save = async () => {
    const { xml } = await modeler.saveXML({ format: true });
    studio.decisions[index] = xml;
    root.dataset.changed = String(Date.now());
  };
  modeler.getActiveViewer().get("eventBus").on("elements.changed", save);
  root.dataset.ready = "true";
  return modeler;
}

function start() {
  const root = document.querySelector(".decision-editor");
  const studio = window.changeflowStudio;
  if (!root || !studio) return;
  const picker = root.querySelector("select[name=decision-document]");
  picker.textContent = "";
  studio.decisions.forEach((xml, index) => {
    const id = (/<(?:\w+:)?decision\b[^>]*\bid="([^"]+)"/.exec(xml) || [])[1] || `table ${index + 1}`;
    picker.append(new Option(id, String(index)));
  });
  picker.addEventListener("change", () => openDecision(root, studio, Number(picker.value)));
  if (studio.decisions.length) {
    openDecision(root, studio, 0).catch((error) => {
      root.dataset.ready = "error";
      root.querySelector(".dmn-canvas").textContent = `The decision table could not be opened: ${error.message}`;
    });
  } else {
    root.querySelector(".dmn-canvas").textContent = "This process has no decision tables.";
    root.dataset.ready = "true";
  }
}

start();
