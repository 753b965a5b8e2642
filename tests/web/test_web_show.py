"""How a record's data values read on its page (the ``show`` filter)."""

from __future__ import annotations

from web import show


def test_values_read_as_people_write_them() -> None:
    assert show(None) == "—"
    assert show(True) == "yes" and show(False) == "no"
    assert show([]) == "none"  # e.g. a change with no schedule conflicts
    assert show(["a", "b"]) == "a, b"
    assert show({"x": 1}) == '{"x": 1}'


def test_conflicts_read_as_their_messages() -> None:
    conflicts = [{"kind": "overlap", "with": "CHG-000002", "message": "Overlaps CHG-000002 (Patch) on mail."},
                 {"kind": "blackout", "message": "Inside a blackout on every service: Year-end close"}]
    assert show(conflicts) == ("Overlaps CHG-000002 (Patch) on mail; "
                               "Inside a blackout on every service: Year-end close.")
