// The properties panel: for the selected element, the properties the engine reads, each written back as the
// XML extension docs/authoring-processes.md describes. Edits apply on change (leaving the field, or Enter).
import { getOperator, getProperty, getText, setOperator, setProperty, setText } from "./extensions.js";
import { describeDuration } from "./durations.js";

const HUMAN = ["bpmn:UserTask", "bpmn:ManualTask"];
const NEW_FORM = "__new__";

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

let fieldCount = 0;

function field(label, control, hint) {
  fieldCount += 1;
  const id = `studio-field-${fieldCount}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id, text: label }), control,
    hint ? h("p", { class: "help", text: hint }) : null);
}

function input(value, onchange, attrs = {}) {
  return h("input", { type: "text", value: value || "", onchange: (e) => onchange(e.target.value.trim()), ...attrs });
}

function textarea(value, onchange, attrs = {}) {
  const node = h("textarea", { rows: "4", onchange: (e) => onchange(e.target.value), ...attrs });
  node.value = value || "";
  return node;
}

function select(options, value, onchange, attrs = {}) {
  const node = h("select", { onchange: (e) => onchange(e.target.value), ...attrs },
    options.map(([optionValue, label]) => h("option", { value: optionValue, text: label })));
  node.value = value || "";
  return node;
}

function is(element, type) {
  return element.businessObject && element.businessObject.$instanceOf(type);
}

/** The lane holding a flow node (the innermost one), or null. */
export function laneOf(modeler, element) {
  let found = null;
  for (const lane of modeler.get("elementRegistry").filter((e) => e.type === "bpmn:Lane")) {
    if ((lane.businessObject.get("flowNodeRef") || []).includes(element.businessObject)) found = lane;
  }
  return found;
}

function roleOfLane(studio, name) {
  return studio.config.laneRoles[(name || "").split(/\s+/).join(" ").trim().toLowerCase()] || null;
}

function humanTasks(modeler, except) {
  return modeler.get("elementRegistry")
    .filter((e) => HUMAN.includes(e.type) && e.id !== except.id)
    .map((e) => [e.id, `${e.businessObject.name || e.id} (${e.id})`]);
}

function laneSection(studio, element) {
  if (is(element, "bpmn:Lane")) {
    const role = roleOfLane(studio, element.businessObject.name);
    return h("p", { class: role ? "lane-role" : "lane-role refusal", "data-role": role || "" },
      role ? `This lane is the role ${role}: its tasks go to the ${role}s of the practice.`
        : "This lane's name maps to no role: name it Process Owner, Process Manager or Practitioner.");
  }
  if (!is(element, "bpmn:FlowNode")) return null;
  const lane = laneOf(studio.modeler, element);
  if (!lane) {
    return h("p", { class: "lane-role muted", "data-role": "" },
      "In no lane: a user task takes its role from candidateGroups, the property 'role', or the model's default role.");
  }
  const role = roleOfLane(studio, lane.businessObject.name);
  return h("p", { class: "lane-role", "data-role": role || "" },
    `Lane: ${lane.businessObject.name || lane.id} → role ${role || "(none: rename the lane)"}`);
}

function formSection(studio, element) {
  const bo = element.businessObject;
  const current = getProperty(bo, "formKey");
  const keys = studio.formKeys();
  if (current && !keys.includes(current)) keys.push(current);
  const options = [["", "(no form)"], ...keys.map((k) => [k, k]), [NEW_FORM, "New form…"]];
  const control = select(options, current, (value) => {
    if (value === NEW_FORM) {
      const key = window.prompt("The new form's key (for example change/cab_review):", `${studio.config.practice}/`);
      if (!key) { studio.showPanel(); return; }
      studio.formEditor.open(key.trim(), true);
      setProperty(studio.modeler, element, "formKey", key.trim());
    } else {
      setProperty(studio.modeler, element, "formKey", value);
    }
  }, { name: "formKey" });
  const edit = h("button", { type: "button", class: "secondary", "data-action": "edit-form", disabled: !current,
    onclick: () => studio.formEditor.open(current, false) }, "Edit this form");
  return [field("Form", control, "The form the task (or the start event) shows; its fields become process data."), edit];
}

function userTaskSection(studio, element) {
  const bo = element.businessObject;
  const modeler = studio.modeler;
  const tasks = humanTasks(modeler, element);
  const rules = getProperty(bo, "separationOfDuties").split(",").map((s) => s.trim()).filter(Boolean);
  const duty = h("fieldset", { class: "duties" }, h("legend", { text: "Separation of duties: who may not do this task" }),
    [["requester", "The requester (who started the instance)"], ...tasks].map(([id, label]) => {
      const box = h("input", { type: "checkbox", value: id, name: "separationOfDuties", checked: rules.includes(id),
        onchange: () => {
          const picked = [...duty.querySelectorAll("input:checked")].map((b) => b.value);
          const kept = rules.filter((r) => !picked.includes(r) && !duty.querySelector(`input[value="${r}"]`));
          setProperty(modeler, element, "separationOfDuties", [...picked, ...kept].join(", "));
        } });
      return h("label", { class: "check" }, box, ` ${label}`);
    }));
  const assign = select([["", "(nobody: the task goes to its queue)"], ["requester", "The requester"],
    ...tasks.map(([id, label]) => [id, `Who completed ${label}`])], getProperty(bo, "assignTo"),
  (value) => setProperty(modeler, element, "assignTo", value), { name: "assignTo" });
  const dueIn = getProperty(bo, "dueIn");
  return [
    ...formSection(studio, element),
    duty,
    field("Assign to", assign),
    field("Due in", input(dueIn, (value) => setProperty(modeler, element, "dueIn", value), { name: "dueIn",
      placeholder: "P2D" }), dueIn ? describeDuration(dueIn)
      : "ISO 8601 duration: PT4H is 4 hours, P2D is 2 days, P1DT12H is a day and a half."),
    field("Instructions", textarea(getText(bo, "spiffworkflow:InstructionsForEndUser"),
      (value) => setText(modeler, element, "spiffworkflow:InstructionsForEndUser", value.trim()),
      { name: "instructions" })),
  ];
}

function sandboxRules(studio) {
  return h("details", { class: "sandbox-rules" }, h("summary", { text: "What scripts may use" }),
    h("p", { class: "help", text: studio.config.sandboxRules }));
}

function scriptSection(studio, element) {
  const bo = element.businessObject;
  return [
    field("Script (Python)", textarea(bo.script, (value) =>
      studio.modeler.get("modeling").updateProperties(element, { scriptFormat: bo.scriptFormat || "python",
        script: value }), { name: "script", rows: "8", class: "code" })),
    sandboxRules(studio),
  ];
}

function conditionSection(studio, element) {
  const bo = element.businessObject;
  const source = bo.sourceRef;
  if (!source || !(source.$instanceOf("bpmn:ExclusiveGateway") || source.$instanceOf("bpmn:InclusiveGateway"))) {
    return null;
  }
  const current = bo.conditionExpression ? bo.conditionExpression.body : "";
  return [
    field("Condition (Python expression)", textarea(current, (value) => {
      const expression = value.trim() ? studio.modeler.get("moddle").create("bpmn:FormalExpression",
        { body: value.trim() }) : undefined;
      studio.modeler.get("modeling").updateProperties(element, { conditionExpression: expression });
    }, { name: "condition", rows: "2", class: "code" }), "Leave it empty on the gateway's default flow."),
    sandboxRules(studio),
  ];
}

function timerSection(studio, element, definition) {
  const kinds = ["timeDuration", "timeDate", "timeCycle"];
  const kind = kinds.find((k) => definition.get(k)) || "timeDuration";
  const value = definition.get(kind) ? definition.get(kind).body : "";
  const write = (newKind, newValue) => {
    const props = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
    if (newValue) props[newKind] = studio.modeler.get("moddle").create("bpmn:FormalExpression", { body: newValue });
    studio.modeler.get("modeling").updateModdleProperties(element, definition, props);
  };
  const hints = { timeDuration: "ISO 8601 duration (PT48H) or an expression giving one",
    timeDate: "ISO 8601 date-time (2026-12-01T09:00:00Z) or an expression such as planned_start",
    timeCycle: "repetitions and a duration: R3/PT1H" };
  return [
    field("Timer kind", select(kinds.map((k) => [k, k]), kind, (newKind) => write(newKind, value),
      { name: "timerKind" })),
    field("Timer", input(value, (newValue) => write(kind, newValue), { name: "timer" }),
      kind === "timeDuration" && value ? `${hints[kind]}: ${describeDuration(value.replace(/"/g, ""))}` : hints[kind]),
  ];
}

function messageSection(studio, element, definition) {
  const definitions = studio.modeler.getDefinitions();
  const messages = definitions.get("rootElements").filter((e) => e.$instanceOf("bpmn:Message"));
  const current = definition.messageRef ? definition.messageRef.id : "";
  const modeling = studio.modeler.get("modeling");
  const control = select([["", "(none)"], ...messages.map((m) => [m.id, m.name || m.id]), [NEW_FORM, "New message…"]],
    current, (value) => {
      let message = messages.find((m) => m.id === value);
      if (value === NEW_FORM) {
        const name = window.prompt("The message's name (POST /api/messages sends it by this name):");
        if (!name) { studio.showPanel(); return; }
        message = studio.modeler.get("moddle").create("bpmn:Message",
          { id: `message_${name.replace(/\W+/g, "_")}`, name });
        message.$parent = definitions;
        modeling.updateModdleProperties(element, definitions,
          { rootElements: [...definitions.get("rootElements"), message] });
      }
      modeling.updateModdleProperties(element, definition, { messageRef: message });
    }, { name: "message" });
  return [field("Message", control, "The instance waits for POST /api/messages with this name and its correlation keys.")];
}

function serviceSection(studio, element) {
  const services = studio.config.services;
  const operator = getOperator(element.businessObject);
  const chosen = operator ? services.find((s) => s.name === operator.id) : null;
  const modeler = studio.modeler;
  const control = select([["", "(choose a registered service)"], ...services.map((s) => [s.name, s.name])],
    operator ? operator.id : "", (name) => {
      const service = services.find((s) => s.name === name);
      if (!service) { setOperator(modeler, element, null); return; }
      const parameters = {};
      for (const p of service.parameters) {
        parameters[p.name] = (operator && operator.parameters[p.name]) || { type: "any", value: "" };
      }
      setOperator(modeler, element, { id: name, resultVariable: operator ? operator.resultVariable : "", parameters });
    }, { name: "service" });
  const parts = [field("Service", control, chosen ? chosen.doc : "Service tasks call a function the server registers.")];
  if (operator && chosen) {
    for (const p of chosen.parameters) {
      const current = operator.parameters[p.name] || { type: "any", value: "" };
      parts.push(field(`${p.name}${p.required ? " (required)" : ""}`, input(current.value, (value) => {
        const parameters = { ...operator.parameters, [p.name]: { ...current, value } };
        setOperator(modeler, element, { ...operator, parameters });
      }, { name: `parameter-${p.name}`, class: "code" }), "An expression over the process data."));
    }
    parts.push(field("Result variable", input(operator.resultVariable, (value) =>
      setOperator(modeler, element, { ...operator, resultVariable: value }), { name: "resultVariable" })));
  }
  return parts;
}

function decisionSection(studio, element) {
  const ids = studio.decisionIds();
  const current = getText(element.businessObject, "spiffworkflow:CalledDecisionId");
  if (current && !ids.includes(current)) ids.push(current);
  return [field("Decision", select([["", "(none)"], ...ids.map((id) => [id, id])], current,
    (value) => setText(studio.modeler, element, "spiffworkflow:CalledDecisionId", value), { name: "decision" }),
  "The decision table (in the Decisions tab) this task evaluates.")];
}

function general(studio, element) {
  const bo = element.businessObject;
  const modeling = studio.modeler.get("modeling");
  return [
    h("p", { class: "element-kind" }, h("strong", { text: bo.$type.replace("bpmn:", "") }), ` · ${element.id}`),
    field("Name", input(bo.name, (value) => modeling.updateProperties(element, { name: value || undefined }),
      { name: "name" })),
  ];
}

/** Draw the panel for one element (the process itself when nothing is selected). */
export function renderPanel(panel, element, studio) {
  panel.textContent = "";
  if (!element || !element.businessObject) return;
  const parts = [...general(studio, element), laneSection(studio, element)];
  const bo = element.businessObject;
  if (HUMAN.some((type) => is(element, type))) parts.push(...userTaskSection(studio, element));
  if (is(element, "bpmn:StartEvent") && !(bo.eventDefinitions || []).length) parts.push(...formSection(studio, element));
  if (is(element, "bpmn:ScriptTask")) parts.push(...scriptSection(studio, element));
  if (is(element, "bpmn:SequenceFlow")) parts.push(...(conditionSection(studio, element) || []));
  if (is(element, "bpmn:ServiceTask")) parts.push(...serviceSection(studio, element));
  if (is(element, "bpmn:BusinessRuleTask")) parts.push(...decisionSection(studio, element));
  for (const definition of bo.eventDefinitions || []) {
    if (definition.$instanceOf("bpmn:TimerEventDefinition")) parts.push(...timerSection(studio, element, definition));
    if (definition.$instanceOf("bpmn:MessageEventDefinition")) parts.push(...messageSection(studio, element, definition));
  }
  panel.append(...parts.filter(Boolean));
  panel.dataset.element = element.id;
}
