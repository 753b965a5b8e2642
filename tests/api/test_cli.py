"""The command line: ``flask --app app users|roles|tokens|deploy|worker``.

Most commands run in-process with Flask's CliRunner on the test app; a real process is started where the
process itself matters (the token on the last line of stdout, the worker stopping on SIGTERM).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import Database, FakeClock
from engine.models import HumanTask
from roles import accounts
from tests.api.support import change_request, rows
from tests.conftest import create_catalog

# HTTP behaviour that does not depend on the SQL dialect: one backend is enough (tests/engine and
# tests/roles cover the SQL on both).
pytestmark = pytest.mark.sqlite_only

ROOT = Path(__file__).resolve().parents[2]
TOKEN_PREFIX = "cf_"


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=list(args))

    return invoke


def last_line(text: str) -> str:
    return text.rstrip("\n").splitlines()[-1]


def me(client, token):
    return client.get("/api/me", headers={"Authorization": f"Bearer {token}"})


# -- users ----------------------------------------------------------------------------------------------


def test_users_create_prints_the_token_alone_on_the_last_line(app, client, cli):
    result = cli("users", "create", "alice", "--role", "manager:change", "--role", "practitioner:*",
                 "--display-name", "Alice")

    assert result.exit_code == 0, result.output
    token = last_line(result.stdout)
    assert token.startswith(TOKEN_PREFIX) and " " not in token
    assert result.stdout.strip() == token  # nothing else on stdout: `TOKEN=$(flask ... users create alice)`
    answer = me(client, token).get_json()
    assert answer == {"username": "alice", "display_name": "Alice", "is_admin": False,
                      "roles": [{"role": "manager", "practice": "change"}, {"role": "practitioner", "practice": "*"}]}
    stored = rows(app, "api_token")["api_token"]
    assert [row["token_hash"] for row in stored] == [hashlib.sha256(token.encode()).hexdigest()]


def test_users_create_admin(client, cli):
    result = cli("users", "create", "root", "--admin")

    assert result.exit_code == 0, result.output
    assert me(client, last_line(result.stdout)).get_json()["is_admin"] is True


@pytest.mark.parametrize("args, message", [
    (("users", "create", "Bad Name"), "lowercase letters"),
    (("users", "create", "carol", "--role", "wizard:change"), "'wizard' is not a role"),
    (("users", "create", "carol", "--role", "manager:Change Board"), "is not a practice"),
])
def test_users_create_refuses_bad_input_and_creates_nothing(app, cli, args, message):
    before = rows(app, "app_user", "role_assignment", "api_token")

    result = cli(*args)

    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert rows(app, "app_user", "role_assignment", "api_token") == before


def test_users_create_refuses_a_taken_name(app, cli):
    cli("users", "create", "dave")
    before = rows(app, "app_user", "role_assignment", "api_token")

    result = cli("users", "create", "dave", "--admin")

    assert result.exit_code == 1 and "already exists" in result.output
    assert rows(app, "app_user", "role_assignment", "api_token") == before


def test_users_list(cli):
    cli("users", "create", "erin", "--role", "owner:release")
    cli("users", "create", "frank")

    result = cli("users", "list")

    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["erin\towner:release", "frank\t-"]


# -- roles ----------------------------------------------------------------------------------------------


def test_roles_grant_and_revoke(client, cli):
    token = last_line(cli("users", "create", "grace").stdout)

    granted = cli("roles", "grant", "grace", "owner:change")

    assert granted.exit_code == 0 and "grace is owner of change" in granted.output
    assert me(client, token).get_json()["roles"] == [{"role": "owner", "practice": "change"}]
    assert cli("roles", "grant", "grace", "owner:change").exit_code == 0  # granting twice changes nothing
    assert len(me(client, token).get_json()["roles"]) == 1

    revoked = cli("roles", "revoke", "grace", "owner:change")

    assert revoked.exit_code == 0 and "no longer owner of change" in revoked.output
    assert me(client, token).get_json()["roles"] == []


def test_roles_revoke_what_is_not_held_or_of_an_unknown_user_fails(cli):
    cli("users", "create", "heidi")

    not_held = cli("roles", "revoke", "heidi", "manager:release")
    unknown = cli("roles", "grant", "ghost", "manager:release")

    assert not_held.exit_code == 1 and "does not hold manager:release" in not_held.output
    assert unknown.exit_code == 1 and "There is no user 'ghost'" in unknown.output


def test_admin_is_granted_for_every_practice(client, cli):
    token = last_line(cli("users", "create", "ivan").stdout)

    assert cli("roles", "grant", "ivan", "admin").exit_code == 0
    assert me(client, token).get_json()["roles"] == [{"role": "admin", "practice": "*"}]


# -- tokens ---------------------------------------------------------------------------------------------


def test_tokens_issue_and_revoke(app, client, cli, clock):
    cli("users", "create", "judy")

    issued = cli("tokens", "issue", "judy", "--expires-in", "30")

    assert issued.exit_code == 0, issued.output
    token = last_line(issued.stdout)
    assert issued.stdout.strip() == token
    assert me(client, token).status_code == 200
    [_first, second] = [row for row in rows(app, "api_token")["api_token"]]
    assert second["expires_at"] == clock.now() + timedelta(days=30)

    revoked = cli("tokens", "revoke", str(second["id"]))

    assert revoked.exit_code == 0
    assert me(client, token).status_code == 401


def test_an_issued_token_expires(client, cli, clock):
    cli("users", "create", "kim")
    token = last_line(cli("tokens", "issue", "kim", "--expires-in", "1").stdout)

    clock.advance(timedelta(days=1))

    assert me(client, token).status_code == 401


@pytest.mark.parametrize("args", [("tokens", "issue", "ghost"), ("tokens", "revoke", "999"),
                                  ("tokens", "issue", "kim", "--expires-in", "0"),
                                  ("tokens", "issue", "kim", "--expires-in", "99999999999")])
def test_tokens_refuse_bad_input(app, cli, args):
    cli("users", "create", "kim")
    before = rows(app, "api_token")

    result = cli(*args)

    assert result.exit_code != 0 and "Traceback" not in result.output
    assert rows(app, "api_token") == before


# -- deploy ---------------------------------------------------------------------------------------------


@pytest.fixture
def diagram_folder(tmp_path):
    """A folder in the bpmn/ layout holding the standard change (which calls no decision table)."""
    folder = tmp_path / "diagrams"
    (folder / "change").mkdir(parents=True)
    shutil.copy(ROOT / "bpmn" / "change" / "standard_change.bpmn", folder / "change")
    return folder


def test_deploy_a_folder_is_idempotent(app, cli, diagram_folder):
    first = cli("deploy", str(diagram_folder))
    after_first = rows(app)
    again = cli("deploy", str(diagram_folder))

    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == ["standard_change (change): version 1 deployed"]
    assert [row["key"] for row in after_first["process_model"]] == ["standard_change"]
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == ["standard_change (change): version 1 unchanged"]
    assert rows(app) == after_first


def test_deploy_without_a_path_deploys_the_shipped_diagrams(app, cli):
    result = cli("deploy")

    assert result.exit_code == 0, result.output
    assert sorted(line.split()[0] for line in result.stdout.splitlines()) == [
        "emergency_change", "normal_change", "release", "standard_change"]
    assert len(rows(app, "process_version")["process_version"]) == 4


def test_deploy_prints_warnings_and_bundles_decisions_named_the_camunda_way(app, cli, tmp_path):
    from tests.conformance.diagrams import CASES, DMN

    [case] = [case for case in CASES if case.name == "business_rule_task_camunda"]
    (tmp_path / "change").mkdir()
    (tmp_path / "change" / "risky.bpmn").write_text(case.bpmn, encoding="utf-8")
    (tmp_path / "change" / "risk.dmn").write_text(DMN, encoding="utf-8")
    laneless = ('<bpmn:businessRuleTask id="rule" name="Risk" camunda:decisionRef="risk"/>\n'
                '<bpmn:userTask id="check" name="Check"/>\n')
    (tmp_path / "change" / "checked.bpmn").write_text(
        case.bpmn.replace('<bpmn:businessRuleTask id="rule" name="Risk" camunda:decisionRef="risk"/>\n', laneless)
        .replace('targetRef="end"', 'targetRef="check"', 1).replace("</bpmn:process>", '<bpmn:sequenceFlow '
                 'id="f_check" sourceRef="check" targetRef="end"/></bpmn:process>'), encoding="utf-8")

    result = cli("deploy", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["checked (change): version 1 deployed", "risky (change): version 1 deployed"]
    assert "warning: check (line" in result.stderr and "default role, practitioner" in result.stderr


def test_deploy_reports_a_broken_diagram_by_element_and_stores_nothing(app, cli, tmp_path):
    from tests.api.diagrams import BROKEN

    (tmp_path / "change").mkdir()
    (tmp_path / "change" / "broken.bpmn").write_text(BROKEN, encoding="utf-8")
    before = rows(app)

    result = cli("deploy", str(tmp_path))

    assert result.exit_code == 1
    assert "orphan (line 7)" in result.output and "cab_review (line 8)" in result.output
    assert "Traceback" not in result.output
    assert rows(app) == before


# -- real processes -------------------------------------------------------------------------------------


def flask_command(*args: str, database_url: str, timeout: float = 120,
                  extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "CHANGEFLOW_DATABASE_URL": database_url, "CHANGEFLOW_LOG_LEVEL": "WARNING",
                   **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_a_real_users_create_prints_the_token_last_and_creates_no_demo_users(database_url):
    result = flask_command("users", "create", "lena", "--role", "practitioner:change", database_url=database_url)

    assert result.returncode == 0, result.stderr
    token = last_line(result.stdout)
    assert result.stdout.strip() == token and token.startswith(TOKEN_PREFIX)
    database = Database(database_url)
    try:
        with database.snapshot() as session:
            assert accounts.authenticate(session, token, now=datetime.now(UTC)).principal.username == "lena"
            assert [user.username for user in accounts.list_users(session)[0]] == ["lena"]
    finally:
        database.dispose()


def test_the_worker_fires_a_due_timer_and_stops_cleanly_on_sigterm(database_url):
    """A change waits for its planned start, which is past on the real clock; the worker process fires it."""
    from app import create_app

    past = FakeClock(datetime(2020, 3, 2, 9, 0, tzinfo=UTC))
    setup = create_app({"CHANGEFLOW_DATABASE_URL": database_url, "CHANGEFLOW_CLOCK": past,
                        "CHANGEFLOW_LOG_LEVEL": "WARNING"})
    cf = setup.extensions["changeflow"]
    with cf.database.transaction() as session:
        tokens = {}
        for name, role in (("pat", "practitioner"), ("max", "manager")):
            user = accounts.create_user(session, name, now=past.now())
            accounts.grant(session, user, role, "change", granted_by="test", now=past.now())
            tokens[name] = {"Authorization": f"Bearer {accounts.issue_token(session, user, now=past.now())[1]}"}
    create_catalog(cf)  # the change picks its service from the catalog
    client = setup.test_client()
    started = client.post("/api/instances", headers=tokens["pat"],
                          json={"process": "normal_change", "data": change_request(past)}).get_json()
    assess = client.post(f"/api/tasks/{started['tasks'][0]['id']}/complete", headers=tokens["max"],
                         json={"data": {"assessment_decision": "accept"}}).get_json()
    waiting = client.post(f"/api/tasks/{assess['next_tasks'][0]['id']}/complete", headers=tokens["max"],
                          json={"data": {"authorization_decision": "authorize"}}).get_json()
    cf.database.dispose()
    assert waiting["instance"]["status"] == "waiting" and waiting["next_tasks"] == []

    # The interval comes from the same setting the embedded server's timer thread reads.
    environment = {**os.environ, "CHANGEFLOW_DATABASE_URL": database_url, "CHANGEFLOW_LOG_LEVEL": "INFO",
                   "CHANGEFLOW_TIMER_INTERVAL": "0.2"}
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"],
                              cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    database = Database(database_url)
    try:
        implement = wait_for_task(database, started["id"], "implement_change", worker)
    finally:
        worker.send_signal(signal.SIGTERM)
        stdout, stderr = worker.communicate(timeout=60)
        database.dispose()

    assert implement.status == "open" and implement.role == "practitioner"
    assert worker.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "Timer worker running (every 0.2 s)" in stderr
    assert "fired the timers of 1 instance(s)" in stderr


def wait_for_task(database: Database, instance_id: int, element_id: str, process: subprocess.Popen,
                  deadline: float = 60.0) -> HumanTask:
    """Poll the task table until the task appears (or the process dies, or the deadline passes)."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        with database.snapshot() as session:
            task = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                           HumanTask.element_id == element_id)).first()
            if task is not None:
                return task
        if process.poll() is not None:
            raise AssertionError(f"the process exited with {process.returncode}: {process.stderr.read()}")
        time.sleep(0.1)
    raise AssertionError(f"{element_id} did not appear within {deadline} s")


# -- only migrate and deploy change the schema or the diagrams (issue 9, finding 19) ---------------------


def _counts(database_url: str) -> dict[str, int]:
    database = Database(database_url)
    try:
        return {name: len(found) for name, found in _all_rows(database).items()}
    finally:
        database.dispose()


def _all_rows(database: Database) -> dict[str, list]:
    from engine.models import Event, ProcessVersion

    with database.snapshot() as session:
        return {"process_version": list(session.scalars(select(ProcessVersion))),
                "event": list(session.scalars(select(Event)))}


@pytest.mark.parametrize("args", [("--help",), ("users", "list"), ("roles", "--help")])
def test_administrative_commands_neither_migrate_nor_deploy(database_url, args):
    result = flask_command(*args, database_url=database_url)

    assert result.returncode == 0, result.stderr
    assert _counts(database_url) == {"process_version": 0, "event": 0}


def test_deploy_reports_truthfully_with_its_comment_and_who_ran_it(database_url):
    environment_actor = {"CHANGEFLOW_ACTOR": "olivia"}

    first = flask_command("deploy", "--comment", "Quarterly review", database_url=database_url,
                          extra_env=environment_actor)
    again = flask_command("deploy", database_url=database_url, extra_env=environment_actor)

    assert first.returncode == 0, first.stderr
    assert sorted(line.rsplit(" ", 1)[1] for line in first.stdout.splitlines()) == ["deployed"] * 4
    assert again.returncode == 0 and sorted(again.stdout.splitlines()) == sorted(
        line.replace("deployed", "unchanged") for line in first.stdout.splitlines())
    database = Database(database_url)
    try:
        found = _all_rows(database)
    finally:
        database.dispose()
    assert {(v.deployed_by, v.comment) for v in found["process_version"]} == {("olivia", "Quarterly review")}
    assert {(e.type.value, e.actor) for e in found["event"]} == {("deployed", "olivia")}


def test_migrate_records_who_ran_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"

    first = flask_command("migrate", database_url=url, extra_env={"CHANGEFLOW_ACTOR": "olivia"})
    again = flask_command("migrate", database_url=url, extra_env={"CHANGEFLOW_ACTOR": "olivia"})

    assert first.returncode == 0, first.stderr
    assert "(was empty)" in first.stdout and "(unchanged)" in again.stdout
    database = Database(url)
    try:
        found = _all_rows(database)
    finally:
        database.dispose()
    assert found["process_version"] == []
    [event] = found["event"]
    assert (event.type.value, event.actor, event.data["from"]) == ("migrated", "olivia", None)


def test_granting_a_role_records_who_granted_it(app, cli, monkeypatch):
    monkeypatch.setenv("CHANGEFLOW_ACTOR", "olivia")
    cli("users", "create", "alice")

    assert cli("roles", "grant", "alice", "manager:change").exit_code == 0

    [assignment] = rows(app, "role_assignment")["role_assignment"]
    assert assignment["granted_by"] == "olivia"


@pytest.mark.parametrize("argv, serves", [
    (["flask", "--app", "app", "run"], True),
    (["flask", "-A", "app", "--debug", "run", "--port", "5001"], True),
    (["flask", "--app", "app", "users", "create", "run"], False),  # a user named "run" is no server
    (["flask", "--app", "app", "--help"], False),
    (["flask", "--app", "app", "worker"], False),
])
def test_only_servers_started_from_the_cli_migrate_and_deploy(monkeypatch, argv, serves):
    import app as application

    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    monkeypatch.setattr(sys, "argv", argv)

    assert application._serves() is serves
    monkeypatch.delenv("FLASK_RUN_FROM_CLI")
    assert application._serves() is True  # gunicorn, python app.py


# -- the service catalog (issue 13) ---------------------------------------------------------------------


def test_services_are_added_listed_and_removed_from_the_command_line(app, cli, client):
    added = cli("services", "add", "ledger", "--criticality", "high", "--window", "sun@02:00-06:00",
                "--window", "sat,sun@22:00-02:00")
    assert added.exit_code == 0, added.output
    assert added.output.strip() == "The service ledger is in the catalog."
    listed = cli("services", "list")
    assert "ledger\tchange\thigh\tsun@02:00-06:00, sat,sun@22:00-02:00" in listed.output.splitlines()
    # the API sees what the command line wrote
    token = last_line(cli("users", "create", "auditor", "--role", "manager:change").output)
    served = client.get("/api/services", headers={"Authorization": f"Bearer {token}"}).get_json()
    [ledger] = [service for service in served if service["name"] == "ledger"]
    assert ledger["maintenance_windows"] == [{"days": ["sun"], "start": "02:00", "end": "06:00"},
                                             {"days": ["sat", "sun"], "start": "22:00", "end": "02:00"}]

    removed = cli("services", "remove", "ledger")
    assert removed.exit_code == 0 and removed.output.strip() == "The service ledger left the catalog."
    assert "ledger" not in cli("services", "list").output


@pytest.mark.parametrize(("args", "message"), [
    (("services", "add", "ledger", "--window", "sunday 2-6"), "write it as DAYS@HH:MM-HH:MM"),
    (("services", "add", "ledger", "--criticality", "urgent"), "criticality"),
    (("services", "remove", "nowhere"), "There is no service 'nowhere' in the catalog."),
])
def test_services_refuse_bad_input_and_change_nothing(app, cli, args, message):
    before = cli("services", "list").output
    result = cli(*args)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert message.lower() in result.output.lower(), result.output
    assert cli("services", "list").output == before
