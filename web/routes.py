"""The web blueprint, served at ``/`` (the API keeps ``/api``)."""

from __future__ import annotations

from flask import Blueprint

blp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
                static_url_path="/static")
