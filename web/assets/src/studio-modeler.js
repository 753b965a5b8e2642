// Changeflow's process modeler: bpmn-js's Modeler, a properties panel for what the engine reads, the
// server's own checks pinned to the elements, the form editor, and deploy with a comment.
// The page (web/templates/studio/modeler.html) hands its data over in <script id="studio-config">.
import Modeler from "bpmn-js/lib/Modeler";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn.css";
import spiffworkflow from "./studio/spiffworkflow-moddle.json";
import { renderPanel } from "./studio/panel.js";
import { FormEditor } from "./studio/form-editor.js";
import { postJson } from "./studio/http.js";

const PROBLEM_MARKER = "cf-problem";

class Studio {
  constructor(root, config) {
    this.root = root;
    this.config = config;
    this.forms = { ...config.forms };  // key -> definition: the latest version's forms, then the editor's
    this.editedForms = {};  // key -> definition: forms created or changed here, sent with the diagram
    this.decisions = config.decisions.slice();  // DMN XML; the decision editor replaces them
    this.problems = [];
    this.overlayIds = [];
    this.modeler = new Modeler({
      container: root.querySelector(".studio-canvas"),
      moddleExtensions: { spiffworkflow },
      // bpmn-js re-sorts the layout (DI) by drawing order on every save; the studio keeps the author's order,
      // so that a diagram opened and saved unchanged is the same document (and so the same version).
      additionalModules: [{ bpmnDiOrdering: ["value", {}] }],
    });
    this.panel = root.querySelector(".studio-panel");
    this.problemList = root.querySelector(".studio-problems");
    this.status = root.querySelector(".studio-status");
    this.formEditor = new FormEditor(root.querySelector(".form-editor"), this);
  }

  async start() {
    await this.modeler.importXML(this.config.bpmn);
    this.modeler.get("canvas").zoom("fit-viewport", "auto");
    const eventBus = this.modeler.get("eventBus");
    eventBus.on("selection.changed", () => this.showPanel());
    eventBus.on("elements.changed", () => this.showPanel());
    this.bindButtons();
    this.showPanel();
    this.root.dataset.ready = "true";  // the browser tests wait for this
  }

  /** The selected element, or the process (the root) when nothing is selected. */
  selected() {
    const selection = this.modeler.get("selection").get();
    if (selection.length === 1) return selection[0];
    return this.modeler.get("canvas").getRootElement();
  }

  showPanel() {
    if (this.panel.contains(document.activeElement) && document.activeElement.dataset.keepFocus) return;
    renderPanel(this.panel, this.selected(), this);
  }

  /** The ids of the decisions in the decision tables that go with the diagram. */
  decisionIds() {
    return this.decisions.flatMap((xml) => [...xml.matchAll(/<(?:\w+:)?decision\b[^>]*\bid="([^"]+)"/g)]
      .map((m) => m[1]));
  }

  formKeys() {
    return [...new Set([...this.config.formKeys, ...Object.keys(this.forms)])].sort();
  }

  async xml() {
    const { xml } = await this.modeler.saveXML({ format: true });
    return xml;
  }

  async body(extra = {}) {
    return { bpmn: await this.xml(), forms: this.editedForms, decisions: this.decisions, ...extra };
  }

  bindButtons() {
    this.root.querySelector("[data-action=check]").addEventListener("click", () => this.check());
    this.root.querySelector("[data-action=save]").addEventListener("click", () => this.saveDraft());
    this.root.querySelector("[data-action=deploy]").addEventListener("click", () => this.deploy());
    this.root.querySelector("[data-action=discard]").addEventListener("click", () => this.discardDraft());
    const decisions = document.querySelector("[data-action=open-decisions]");
    if (decisions) decisions.addEventListener("click", () => loadDecisionEditor(decisions));
    document.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key === "s") {
        event.preventDefault();
        this.saveDraft();
      }
    });
  }

  draftKey() {
    return `changeflow.studio.${this.config.key}`;
  }

  /** Save keeps a draft in this browser (diagram, edited forms, decisions) and runs the server's checks. */
  async saveDraft() {
    const body = await this.body();
    localStorage.setItem(this.draftKey(), JSON.stringify({ ...body, based_on: this.config.version }));
    this.say("Draft saved in this browser. Checking…");
    return this.check();
  }

  discardDraft() {
    localStorage.removeItem(this.draftKey());
    window.location.reload();
  }

  async restoreDraft() {
    const text = localStorage.getItem(this.draftKey());
    if (!text) return;
    const draft = JSON.parse(text);
    if (draft.based_on !== this.config.version) {
      this.say(`A draft based on version ${draft.based_on} was set aside: version ${this.config.version} is newer.`);
      localStorage.removeItem(this.draftKey());
      return;
    }
    await this.modeler.importXML(draft.bpmn);
    this.editedForms = draft.forms || {};
    Object.assign(this.forms, this.editedForms);
    this.decisions = draft.decisions || this.decisions;
    this.say("Your draft from this browser is open (Discard draft goes back to the deployed version).");
  }

  say(text, kind = "info") {
    this.status.textContent = text;
    this.status.className = `studio-status flash flash-${kind}`;
  }

  /** Run the deploy checks on the server; pin each problem and warning on its element. */
  async check() {
    const { status, payload } = await postJson(this.config.urls.validate, await this.body(), this.config.csrf);
    this.showProblems(payload.problems || [], payload.warnings || []);
    if (status === 200 && payload.valid) {
      this.say(payload.warnings.length ? `No problems; ${payload.warnings.length} warning(s).` : "No problems.",
        "info");
    } else {
      this.say(payload.detail || "The check found problems.", "error");
    }
    this.root.dataset.checked = String(Date.now());
    return payload;
  }

  showProblems(problems, warnings) {
    const canvas = this.modeler.get("canvas");
    const overlays = this.modeler.get("overlays");
    const registry = this.modeler.get("elementRegistry");
    for (const item of this.problems) {
      if (registry.get(item.element_id)) canvas.removeMarker(item.element_id, PROBLEM_MARKER);
    }
    this.overlayIds.forEach((id) => overlays.remove(id));
    this.overlayIds = [];
    this.problems = [...problems.map((p) => ({ ...p, kind: "problem" })),
      ...warnings.map((w) => ({ ...w, kind: "warning" }))];
    this.problemList.textContent = "";
    const counts = {};
    for (const item of this.problems) {
      const li = document.createElement("li");
      li.className = `studio-${item.kind}`;
      li.dataset.elementId = item.element_id || "";
      const where = item.element_id ? `${item.element_id}: ` : "";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = `${item.kind === "problem" ? "Problem" : "Warning"} · ${where}${item.message}`;
      button.addEventListener("click", () => this.focus(item.element_id));
      li.appendChild(button);
      this.problemList.appendChild(li);
      if (item.element_id && registry.get(item.element_id) && item.kind === "problem") {
        counts[item.element_id] = (counts[item.element_id] || 0) + 1;
      }
    }
    for (const [id, count] of Object.entries(counts)) {
      canvas.addMarker(id, PROBLEM_MARKER);
      const badge = document.createElement("div");
      badge.className = "cf-problem-badge";
      badge.textContent = String(count);
      badge.title = this.problems.filter((p) => p.element_id === id).map((p) => p.message).join("\n");
      badge.dataset.elementId = id;
      this.overlayIds.push(overlays.add(id, { position: { top: -10, right: 10 }, html: badge }));
    }
    if (!this.problems.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "Nothing to report.";
      this.problemList.appendChild(li);
    }
  }

  focus(elementId) {
    const element = elementId && this.modeler.get("elementRegistry").get(elementId);
    if (!element) return;
    this.modeler.get("selection").select(element);
    this.modeler.get("canvas").scrollToElement(element);
  }

  async deploy() {
    const comment = this.root.querySelector("[name=comment]").value.trim();
    const { status, payload } = await postJson(this.config.urls.deploy, await this.body({ comment }),
      this.config.csrf);
    if (status === 201 || status === 200) {
      localStorage.removeItem(this.draftKey());
      this.showProblems([], payload.warnings || []);
      const text = payload.created ? `Deployed as version ${payload.version}.`
        : `Identical to version ${payload.version}: nothing new was deployed.`;
      this.say(text, "info");
      this.config.version = payload.version;
      this.root.dataset.deployed = String(payload.version);
      document.querySelector(".studio-version").textContent = `version ${payload.version}`;
      this.editedForms = {};
    } else {
      this.showProblems(payload.problems || [], payload.warnings || []);
      this.say(payload.detail || `The deploy was refused (${status}).`, "error");
    }
  }
}

/** The decision editor (dmn-js) is a bundle of its own, fetched only when someone opens it. */
function loadDecisionEditor(button) {
  button.hidden = true;
  const style = document.createElement("link");
  style.rel = "stylesheet";
  style.href = button.dataset.style;
  document.head.appendChild(style);
  const script = document.createElement("script");
  script.src = button.dataset.script;
  document.head.appendChild(script);
}

async function main() {
  const root = document.querySelector(".studio[data-studio]");
  if (!root) return;
  const config = JSON.parse(document.getElementById("studio-config").textContent);
  const studio = new Studio(root, config);
  window.changeflowStudio = studio;  // for the browser tests and the decision editor
  try {
    await studio.start();
    await studio.restoreDraft();
  } catch (error) {
    root.dataset.ready = "error";
    studio.say(`The diagram could not be opened: ${error.message}`, "error");
  }
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", main);
} else {
  main();
}
