"""Changeflow's ITIL specifics, wired into the generic engine by ``app.py``.

The engine runs any BPMN process; what makes it Changeflow's change and release management lives here:
the business keys of each practice (``CHG-000042``, ``REL-000007``) and the services the shipped release
process calls to act under change's authority.
"""

from __future__ import annotations

from itsm.services import check_changes_authorized, itsm_services, record_release_outcome

BUSINESS_KEY_PREFIXES = {"change": "CHG", "release": "REL"}

__all__ = ["BUSINESS_KEY_PREFIXES", "check_changes_authorized", "itsm_services", "record_release_outcome"]
