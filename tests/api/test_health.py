"""GET /healthz: 200 when the database answers, a 503 problem when it does not. No token needed."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from tests.api.support import assert_problem

# HTTP behaviour that does not depend on the SQL dialect: one backend is enough (tests/engine and
# tests/roles cover the SQL on both).
pytestmark = pytest.mark.sqlite_only


def test_healthz_answers_200_without_a_token(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


@pytest.fixture(params=["sqlite-missing-folder", "postgresql-closed-port"])
def unreachable_url(request, tmp_path):
    if request.param == "sqlite-missing-folder":
        return f"sqlite:///{tmp_path}/no/such/folder/changeflow.db"
    return "postgresql+psycopg://changeflow@127.0.0.1:9/changeflow?connect_timeout=2"


def test_healthz_is_a_503_problem_when_the_database_cannot_be_reached(app, client, monkeypatch, unreachable_url):
    database = app.extensions["changeflow"].database
    broken = create_engine(unreachable_url)
    monkeypatch.setattr(database, "_readers", sessionmaker(broken))

    response = client.get("/healthz")

    assert_problem(response, 503, "unavailable", detail="The database does not answer.")
    monkeypatch.undo()
    broken.dispose()
    assert client.get("/healthz").status_code == 200
