// Reading and writing the XML extensions the engine reads (docs/authoring-processes.md), through bpmn-js's
// modeling so that each edit can be undone and the moddle extension writes them back as spiffworkflow:*.

export function extensionsOf(bo) {
  const ext = bo.get("extensionElements");
  return ext ? ext.get("values") : [];
}

export function findExtension(bo, type) {
  return extensionsOf(bo).find((value) => value.$instanceOf(type));
}

function ensureExtensions(modeler, element) {
  const bo = element.businessObject;
  let ext = bo.get("extensionElements");
  if (!ext) {
    ext = modeler.get("moddle").create("bpmn:ExtensionElements", { values: [] });
    ext.$parent = bo;
    modeler.get("modeling").updateModdleProperties(element, bo, { extensionElements: ext });
  }
  return ext;
}

function replaceExtension(modeler, element, old, replacement) {
  const ext = ensureExtensions(modeler, element);
  const values = ext.get("values").slice();
  const index = old ? values.indexOf(old) : -1;
  if (replacement) {
    replacement.$parent = ext;
    if (index >= 0) values.splice(index, 1, replacement);
    else values.push(replacement);
  } else if (index >= 0) {
    values.splice(index, 1);
  }
  modeler.get("modeling").updateModdleProperties(element, ext, { values });
}

/** The value of <spiffworkflow:property name="..."> on the element, or "". */
export function getProperty(bo, name) {
  const properties = findExtension(bo, "spiffworkflow:Properties");
  const found = properties && properties.get("property").find((p) => p.name === name);
  return found ? found.value || "" : "";
}

/** Set (or, given "", remove) a spiffworkflow property, keeping the others in their order. */
export function setProperty(modeler, element, name, value) {
  const moddle = modeler.get("moddle");
  const modeling = modeler.get("modeling");
  const bo = element.businessObject;
  let properties = findExtension(bo, "spiffworkflow:Properties");
  const existing = properties && properties.get("property").find((p) => p.name === name);
  if (existing && value) {
    modeling.updateModdleProperties(element, existing, { value });
    return;
  }
  if (!existing && !value) return;
  if (!properties) {
    properties = moddle.create("spiffworkflow:Properties", { property: [] });
    replaceExtension(modeler, element, null, properties);
  }
  const list = properties.get("property").slice();
  if (existing) {
    list.splice(list.indexOf(existing), 1);
  } else {
    const property = moddle.create("spiffworkflow:Property", { name, value });
    property.$parent = properties;
    list.push(property);
  }
  modeling.updateModdleProperties(element, properties, { property: list });
}

/** The text of a body-only extension (instructionsForEndUser, calledDecisionId, preScript...). */
export function getText(bo, type) {
  const node = findExtension(bo, type);
  return node ? node.text || "" : "";
}

export function setText(modeler, element, type, text) {
  const node = findExtension(element.businessObject, type);
  if (node && text) {
    modeler.get("modeling").updateModdleProperties(element, node, { text });
  } else if (node) {
    replaceExtension(modeler, element, node, null);
  } else if (text) {
    replaceExtension(modeler, element, null, modeler.get("moddle").create(type, { text }));
  }
}

/** {id, resultVariable, parameters: {name: {type, value}}} of a service task, or null. */
export function getOperator(bo) {
  const operator = findExtension(bo, "spiffworkflow:ServiceTaskOperator");
  if (!operator) return null;
  const parameters = {};
  const list = operator.get("parameters");
  for (const parameter of list ? list.get("parameter") : []) {
    parameters[parameter.id] = { type: parameter.type, value: parameter.value || "" };
  }
  return { id: operator.id || "", resultVariable: operator.resultVariable || "", parameters };
}

/** Write a service task's operator: the service's name, its result variable and parameter expressions. */
export function setOperator(modeler, element, operator) {
  const moddle = modeler.get("moddle");
  const old = findExtension(element.businessObject, "spiffworkflow:ServiceTaskOperator");
  if (!operator) {
    if (old) replaceExtension(modeler, element, old, null);
    return;
  }
  const parameters = Object.entries(operator.parameters).map(([id, p]) =>
    moddle.create("spiffworkflow:Parameter", { id, type: p.type || "any", value: p.value }));
  const attrs = { id: operator.id };
  if (operator.resultVariable) attrs.resultVariable = operator.resultVariable;
  const node = moddle.create("spiffworkflow:ServiceTaskOperator", attrs);
  const list = moddle.create("spiffworkflow:Parameters", { parameter: parameters });
  parameters.forEach((p) => { p.$parent = list; });
  list.$parent = node;
  node.set("parameters", list);
  replaceExtension(modeler, element, old, node);
}
