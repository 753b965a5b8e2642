"""Liveness and database reachability, for load balancers and orchestrators (no token needed)."""

from __future__ import annotations

import logging
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.exc import SQLAlchemyError

from api.errors import PROBLEM_JSON, problem
from api.extension import changeflow
from api.schemas import HealthSchema, ProblemSchema

blp = Blueprint("health", __name__, description="Health check.")
log = logging.getLogger(__name__)


def database_answers() -> bool:
    """Whether the database answers a trivial query (the reason it does not is logged)."""
    try:
        changeflow().engine.ping()
    except SQLAlchemyError as error:
        log.warning("health check: the database does not answer: %s", error)
        return False
    return True


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=ProblemSchema, content_type=PROBLEM_JSON,
                      description="The database does not answer.")
    @blp.doc(security=[])
    def get(self) -> Any:
        """200 when the server can query its database, 503 otherwise."""
        if not database_answers():
            return problem(503, "The database does not answer.", slug="unavailable")
        return {"status": "ok", "database": "ok"}
