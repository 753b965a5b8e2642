"""A diagram's identity: its canonical XML, so that a modeler's re-save is the same version.

A modeler that opens a diagram and saves it unchanged rewrites the file: it re-indents it, may order the
attributes and the namespace declarations differently, writes its own name in ``exporter`` and
``exporterVersion``, and changes the XML declaration. None of that changes what runs or what is drawn,
so none of it changes the identity. The identity is the W3C Canonical XML 2.0 form of the document
(comments dropped, namespace prefixes rewritten to canonical ones) after whitespace *between* elements
is removed. Text inside an element (a script, a condition, a name) is kept exactly: indentation there
can change what a script means. Layout coordinates are kept too: moving a shape is a change to the
diagram people see.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
# The modeler that saved the file, and its version: metadata on <definitions>, not content.
EXPORTER_ATTRIBUTES = ("exporter", "exporterVersion")


def canonical_xml(text: str) -> str:
    """The canonical form of an XML document (BPMN or DMN); ``text`` itself when it is not well-formed XML
    (the deploy checks report that; an unreadable document is only ever identical to itself)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(text.encode("utf-8", "surrogatepass"), parser)
    except (etree.XMLSyntaxError, ValueError):
        return text
    _drop_whitespace_between_elements(root)
    for name in EXPORTER_ATTRIBUTES:
        root.attrib.pop(name, None)
    # C14N 2.0: attributes in canonical order, namespace declarations only where used and under canonical
    # prefixes (n0, n1, ...), including the prefixes inside xsi:type values.
    canonical: Any = etree.canonicalize(root, rewrite_prefixes=True, qname_aware_attrs=[XSI_TYPE])
    return str(canonical)


def _drop_whitespace_between_elements(root: Any) -> None:
    """Remove text that is only whitespace and sits between elements (indentation), nowhere else."""
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if len(element) and element.text is not None and not element.text.strip():
            element.text = None
        if element.tail is not None and not element.tail.strip():
            element.tail = None
