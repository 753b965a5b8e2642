// The form editor: a form definition as JSON, with a live preview rendered by the server with the task
// page's own renderer and checked by the form-definition rules. What is edited here is deployed with the
// diagram (the forms are stored with the version).
import { postJson } from "./http.js";

export class FormEditor {
  constructor(root, studio) {
    this.root = root;
    this.studio = studio;
    this.key = null;
    this.text = root.querySelector("textarea[name=form-definition]");
    this.preview = root.querySelector(".form-preview");
    this.problems = root.querySelector(".form-problems");
    this.title = root.querySelector(".form-key");
    this.timer = null;
    this.text.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.refresh(), 300);
    });
    root.querySelector("[data-action=close-form]").addEventListener("click", () => this.close());
    const picker = root.ownerDocument.querySelector("[data-action=open-form]");
    if (picker) picker.addEventListener("change", (event) => {
      if (event.target.value) this.open(event.target.value, !this.studio.forms[event.target.value]);
      event.target.value = "";
    });
  }

  /** Open a form by key; a new one starts from a small example. */
  open(key, isNew) {
    this.key = key;
    const existing = this.studio.forms[key];
    const definition = existing || { title: "New form", fields: [
      { name: "decision", type: "enum", label: "Decision", choices: ["approve", "reject"], required: true }] };
    this.text.value = JSON.stringify(definition, null, 2);
    this.title.textContent = key + (isNew && !existing ? " (new)" : "");
    this.root.hidden = false;
    this.root.scrollIntoView({ block: "nearest" });
    return this.refresh();
  }

  close() {
    this.root.hidden = true;
    this.key = null;
  }

  /** Check the definition on the server, show its preview, and keep it for the next check and deploy. */
  async refresh() {
    let definition;
    try {
      definition = JSON.parse(this.text.value);
    } catch (error) {
      this.showProblems([`The form is not valid JSON: ${error.message}`]);
      return;
    }
    const { status, payload } = await postJson(this.studio.config.urls.formPreview,
      { key: this.key, definition }, this.studio.config.csrf);
    if (status !== 200) {
      this.showProblems([payload.detail || `The preview failed (${status}).`]);
      return;
    }
    this.showProblems(payload.problems);
    if (payload.html !== null) {
      this.preview.innerHTML = payload.html;  // rendered and escaped by the server's own template
      this.studio.forms[this.key] = definition;
      this.studio.editedForms[this.key] = definition;
      this.root.dataset.previewed = this.key;
    }
  }

  showProblems(problems) {
    this.problems.textContent = "";
    for (const text of problems) {
      const li = document.createElement("li");
      li.textContent = text;
      this.problems.appendChild(li);
    }
    this.root.dataset.valid = String(!problems.length);
  }
}
