"""The web blueprint, served at ``/`` (the API keeps ``/api``)."""

from __future__ import annotations

from flask import Blueprint


def make_blueprint() -> Blueprint:
    """A new blueprint for each app: its modules add their routes and hooks before it is registered."""
    return Blueprint("web", __name__, template_folder="templates", static_folder="static",
                     static_url_path="/assets")
