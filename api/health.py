"""Liveness and database reachability, for load balancers and orchestrators (no token needed)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.exc import SQLAlchemyError

from api.errors import problem
from api.extension import changeflow
from api.schemas import HealthSchema

blp = Blueprint("health", __name__, description="Health check.")


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.doc(security=[])
    def get(self) -> Any:
        """200 when the server can query its database, 503 otherwise."""
        try:
            changeflow().engine.ping()
        except SQLAlchemyError:
            return problem(503, "The database does not answer.", slug="unavailable")
        return {"status": "ok", "database": "ok"}
