"""The OpenAPI 3 document describes every route, its bodies and its errors; /api/docs serves it."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

# HTTP behaviour that does not depend on the SQL dialect: one backend is enough (tests/engine and
# tests/roles cover the SQL on both).
pytestmark = pytest.mark.sqlite_only

PROBLEM_REF = "#/components/schemas/Problem"
UNDOCUMENTED_ENDPOINTS = {"static"}  # Flask's static files
WEB_BLUEPRINT = "web"  # the pages for people (tests/web covers them)
DOC_BLUEPRINT = "api-docs"  # /api/openapi.json and /api/docs themselves
PUBLIC_PATHS = {"/healthz"}


@pytest.fixture
def spec(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method, operation


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def documented_routes(app):
    """(METHOD, OpenAPI path) of every route the app serves, but Flask's static files and the docs."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED_ENDPOINTS or rule.endpoint.startswith((f"{DOC_BLUEPRINT}.",
                                                                                 f"{WEB_BLUEPRINT}.")):
            continue
        routes |= {(method, openapi_path(rule.rule)) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_the_document_is_valid_openapi_3(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "Changeflow"


def test_the_docs_page_is_served(client):
    response = client.get("/api/docs")

    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "/api/openapi.json" in response.get_data(as_text=True)


def test_the_docs_page_loads_nothing_from_elsewhere(client):
    """Swagger UI came unpinned from a CDN, without SRI, on the page where admins paste tokens (issue 9,
    finding 16). The app serves its files now, and the page's policy allows no other origin."""
    import re

    page = client.get("/api/docs")
    html = page.get_data(as_text=True)

    assert "//" not in "".join(re.findall(r'(?:src|href)="([^"]*)"', html))
    assets = re.findall(r'(?:src|href)="(/api/docs/assets/[^"]+)"', html)
    assert sorted(path.rsplit("/", 1)[1] for path in assets) == [
        "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"]
    for path in assets:
        with client.get(path) as asset:
            assert asset.status_code == 200 and len(asset.get_data()) > 1000, path
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert client.get("/api/docs/assets/index.html").status_code == 404
    assert client.get("/api/docs/assets/../../app.py").status_code == 404


# Operations whose success body is not JSON (append here).
OTHER_SUCCESS_MEDIA_TYPES = {("get", "/api/kpis.csv"): "text/csv",
                             ("get", "/api/calendar/{token}.ics"): "text/calendar"}


def test_every_route_is_in_the_document(app, spec):
    routes = documented_routes(app)
    documented = {(method.upper(), path) for path, method, _operation in operations(spec)}

    assert len(routes) > 25
    assert routes - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routes == set(), "documented operations the app does not serve"


def test_every_operation_has_a_summary(spec):
    missing = [(method, path) for path, method, operation in operations(spec) if not operation.get("summary")]

    assert missing == []


def test_every_operation_documents_its_success_body(spec):
    for path, method, operation in operations(spec):
        successes = {status: response for status, response in operation["responses"].items()
                     if status.startswith("2")}
        assert successes, (method, path)
        for status, response in successes.items():
            if status == "204":
                assert "content" not in response, (method, path)
            else:
                media_type = OTHER_SUCCESS_MEDIA_TYPES.get((method, path), "application/json")
                assert response["content"][media_type]["schema"], (method, path, status)


def test_every_operation_documents_its_errors_as_problems(spec):
    for path, method, operation in operations(spec):
        errors = {status: response for status, response in operation["responses"].items() if status[0] in "45"}
        expected = {"503"} if path in PUBLIC_PATHS else {"400", "401"}
        assert expected <= errors.keys(), (method, path, sorted(errors))
        for status, response in errors.items():
            assert response["content"]["application/problem+json"]["schema"] == {"$ref": PROBLEM_REF}, (
                method, path, status)
        default = spec["components"]["responses"]["DEFAULT_ERROR"]
        assert operation["responses"]["default"] == {"$ref": "#/components/responses/DEFAULT_ERROR"}
        assert default["content"]["application/problem+json"]["schema"] == {"$ref": PROBLEM_REF}


def test_operations_that_take_a_body_document_it_and_their_422(spec):
    with_body = {(method, path) for path, method, operation in operations(spec) if "requestBody" in operation}

    assert {("post", "/api/instances"), ("post", "/api/tasks/{task_id}/complete"), ("post", "/api/messages"),
            ("post", "/api/process-models/{key}/versions"), ("post", "/api/role-assignments")} <= with_body
    for path, method, operation in operations(spec):
        if (method, path) in with_body:
            content = operation["requestBody"]["content"]
            assert content["application/json"]["schema"], (method, path)
            assert "422" in operation["responses"], (method, path)


def test_the_problem_schema_has_the_rfc_7807_members(spec):
    problem = spec["components"]["schemas"]["Problem"]

    assert {"type", "title", "status", "detail", "errors"} <= problem["properties"].keys()


def test_bearer_tokens_secure_everything_but_the_health_check(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    secured = [path for path, _method, operation in operations(spec) if "security" in operation]
    assert sorted(secured) == sorted(["/healthz", "/api/calendar/{token}.ics"])  # a feed's address is its credential


def test_ids_in_paths_are_bounded_integers(spec):
    parameter = spec["paths"]["/api/instances/{instance_id}"]["parameters"][0]

    assert parameter["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


def test_list_operations_document_the_pagination_header(spec):
    for path in ("/api/instances", "/api/tasks", "/api/process-models", "/api/users", "/api/role-assignments",
                 "/api/instances/{instance_id}/events", "/api/process-models/{key}/versions"):
        headers = spec["paths"][path]["get"]["responses"]["200"]["headers"]
        assert "X-Pagination" in headers, path


# -- the document and the validation say the same (issue 9, finding 15) ------------------------------------


def _body_schema(spec, path, method="post"):
    content = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    name = content["$ref"].rsplit("/", 1)[1]
    return spec["components"]["schemas"][name]["properties"]


def test_the_document_states_the_shapes_the_validation_checks(spec):
    assert _body_schema(spec, "/api/users")["username"]["pattern"] == "^[a-z0-9][a-z0-9._-]{0,99}$"
    deploy = _body_schema(spec, "/api/process-models/{key}/versions")
    assert deploy["practice"]["pattern"] == "^[a-z][a-z0-9_-]{0,49}$"
    validated_key = _body_schema(spec, "/api/process-models/validate")["key"]
    assert validated_key["pattern"] == "^(?!validate$)[a-z][a-z0-9_-]{0,99}$"
    assert _body_schema(spec, "/api/role-assignments")["practice"]["pattern"] == "^(\\*|[a-z][a-z0-9_-]{0,49})$"


@pytest.mark.parametrize("version", [1.5, "1", True])
def test_a_version_that_is_not_an_integer_is_refused_not_rounded(app, http, shipped, version):
    from tests.api.support import assert_problem, change_request

    response = http.post("/api/instances", "change-practitioner",
                         {"process": "normal_change", "version": version, "data": change_request()})

    assert set(assert_problem(response, 422, "validation-failed")["errors"]) == {"version"}


def test_a_practice_longer_than_its_column_is_refused_at_deploy(http):
    from tests.api import diagrams
    from tests.api.support import assert_problem

    response = http.post("/api/process-models/wide/versions", "admin",
                         {"bpmn": diagrams.REVIEW, "practice": "p" * 51})

    assert set(assert_problem(response, 422, "validation-failed")["errors"]) == {"practice"}


def test_the_dry_run_path_is_no_process_key(client, http):
    """GET /api/process-models/validate read a process named 'validate', so a 405 there advertised GET."""
    from tests.api import diagrams
    from tests.api.support import assert_problem

    response = http.get("/api/process-models/validate", "admin")

    assert_problem(response, 405)
    assert "GET" not in response.headers["Allow"] and "POST" in response.headers["Allow"]
    refused = http.post("/api/process-models/validate/versions", "admin",
                        {"bpmn": diagrams.REVIEW, "practice": "change"})
    assert set(assert_problem(refused, 422, "validation-failed")["errors"]) == {"key"}


def test_rules_json_schema_cannot_state_are_in_the_descriptions(spec):
    """The validation refuses these although they fit the JSON Schema; the document must say so (issue 9)."""
    schemas = spec["components"]["schemas"]

    def description(schema: str, field: str) -> str:
        return schemas[schema]["properties"][field]["description"]

    for schema in ("StartRequest", "CompleteRequest", "RetryRequest"):
        assert "NUL character" in description(schema, "data") and "400" in description(schema, "data")
    assert "in the future" in description("TokenRequest", "expires_at")
    assert "keeps its own" in description("DeployRequest", "practice")
    assert "forms.<key>" in description("DeployRequest", "forms")
    assert "must be for '*'" in description("RoleAssignmentCreate", "practice")


def test_the_cab_routes_are_documented_with_their_bodies(spec):
    assert {"/api/cab/agenda", "/api/cab/decisions", "/api/cab/rules", "/api/cab/rules/{key}"} <= spec["paths"].keys()
    agenda_parameters = {parameter["name"] for parameter in spec["paths"]["/api/cab/agenda"]["get"]["parameters"]}
    assert {"from", "to", "practice"} <= agenda_parameters
    assert set(_body_schema(spec, "/api/cab/decisions")) == {"decisions"}
    assert set(_body_schema(spec, "/api/cab/rules/{key}", "put")) == {"quorum", "decision_rule", "vote_hours"}
