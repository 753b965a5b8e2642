"""Changeflow's application factory. ``python app.py`` runs the embedded server on SQLite.

A server starting up applies the migrations and deploys the processes in ``bpmn/``; administrative
commands (``flask --app app users ...``) do neither: only ``flask --app app migrate`` and ``deploy`` change the
schema or the deployed diagrams, so a half-edited diagram never goes live because someone listed users. The
embedded server also creates demo users on an empty database (and prints their tokens), fires due timers in a
background thread, and serves the API on port 5000 with granian (a production WSGI server). Apps made
otherwise (``flask --app app ...``, gunicorn, granian) do neither unless CHANGEFLOW_DEMO_USERS or
CHANGEFLOW_TIMER_THREAD say so: the CLI must not invent users, and production fires timers with
``flask --app app worker``.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import api
import migrations
import web
from api import cli
from api.extension import EXTENSION, Changeflow
from cab import register_cab_services
from engine import SYSTEM_ACTOR, Database, Engine
from engine.catalog import deploy_folder
from engine.runtime import TIME_BUDGET
from engine.sandbox import SCRIPT_TIME_LIMIT
from engine.worker import TIMER_INTERVAL, TimerThread
from forms import load_form_directory
from itsm import BUSINESS_KEY_PREFIXES, itsm_services
from notifications import EXTENSION as NOTIFICATIONS
from notifications import Notifier, from_environment
from roles import accounts
from roles.demo import create_demo_users
from roles.policy import role_for_lane
from schedule import choice_lists, close_cancelled
from schedule import views as schedule_views
from schedule.commands import CreateService

DEMO_SERVICES = ("billing", "customer portal", "mail", "payroll", "vpn")

ROOT = Path(__file__).resolve().parent
# Threads serving requests in the embedded server: a slow request (a long script) does not hold up the others.
EMBEDDED_THREADS = 4
log = logging.getLogger("changeflow")


def _serves() -> bool:
    """Whether this process is a server starting up (``python app.py``, gunicorn, ``flask run``), not an
    administrative command: only servers (and ``flask migrate``/``deploy``) change the schema or deploy."""
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true":
        return True
    arguments = iter(sys.argv[1:])
    for argument in arguments:  # the first word that is not one of flask's own options is the command
        if argument in ("--app", "-A", "--env-file", "-e"):
            next(arguments, None)
        elif not argument.startswith("-"):
            return argument == "run"
    return False


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def _local_secret_key() -> str:
    """The key that signs session cookies when CHANGEFLOW_SECRET_KEY is unset: made once and kept in
    instance/secret_key (mode 0600), so that every worker on this host, and every restart, signs alike.
    Several hosts must share CHANGEFLOW_SECRET_KEY instead."""
    path = ROOT / "instance" / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    for _attempt in range(50):
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.01)  # another worker created it a moment ago and is writing it
            continue
        key = secrets.token_hex(32)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(key)
        return key
    raise RuntimeError(f"{path} stays empty; delete it, or set CHANGEFLOW_SECRET_KEY")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``test_config`` overrides settings (tests pass a database URL and a fake clock)."""
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    app.config.from_mapping(
        CHANGEFLOW_DATABASE_URL=os.environ.get("CHANGEFLOW_DATABASE_URL",
                                               f"sqlite:///{ROOT / 'instance' / 'changeflow.db'}"),
        SECRET_KEY=os.environ.get("CHANGEFLOW_SECRET_KEY") or _local_secret_key(),
        CHANGEFLOW_LOG_LEVEL=os.environ.get("CHANGEFLOW_LOG_LEVEL", "INFO"),
        CHANGEFLOW_MIGRATE=_env_flag("CHANGEFLOW_MIGRATE", _serves()),
        CHANGEFLOW_DEPLOY_BPMN=_env_flag("CHANGEFLOW_DEPLOY_BPMN", _serves()),
        CHANGEFLOW_DEMO_USERS=_env_flag("CHANGEFLOW_DEMO_USERS", False),
        CHANGEFLOW_TIMER_THREAD=_env_flag("CHANGEFLOW_TIMER_THREAD", False),
        CHANGEFLOW_TIMER_INTERVAL=float(os.environ.get("CHANGEFLOW_TIMER_INTERVAL", TIMER_INTERVAL)),
        CHANGEFLOW_SCRIPT_TIME_LIMIT=float(os.environ.get("CHANGEFLOW_SCRIPT_TIME_LIMIT", SCRIPT_TIME_LIMIT)),
        CHANGEFLOW_COMMAND_TIME_LIMIT=float(os.environ.get("CHANGEFLOW_COMMAND_TIME_LIMIT", TIME_BUDGET)),
        CHANGEFLOW_CLOCK=None,
        CHANGEFLOW_TRUST_PROXY=_env_flag("CHANGEFLOW_TRUST_PROXY", False),
        # Outbox rows in every command's transaction; off only to measure what they cost (bench/).
        CHANGEFLOW_NOTIFICATIONS=_env_flag("CHANGEFLOW_NOTIFICATIONS", True),
        CHANGEFLOW_NOTIFICATION_SETTINGS=None,  # a NotificationSettings (tests); else from the environment
        MAX_CONTENT_LENGTH=5 * 1024 * 1024,
    )
    if test_config:
        app.config.update(test_config)
    logging.basicConfig(level=app.config["CHANGEFLOW_LOG_LEVEL"],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    url = app.config["CHANGEFLOW_DATABASE_URL"]
    database = Database(url)  # first: it creates the SQLite file's folder
    if app.config["CHANGEFLOW_MIGRATE"]:
        migrations.upgrade(url)
    forms = load_form_directory(ROOT / "forms" / "definitions")
    engine = Engine(database, lane_roles=role_for_lane, clock=app.config["CHANGEFLOW_CLOCK"],
                    find_form=forms.get, script_time_limit=app.config["CHANGEFLOW_SCRIPT_TIME_LIMIT"],
                    command_time_limit=app.config["CHANGEFLOW_COMMAND_TIME_LIMIT"],
                    services=register_cab_services(itsm_services()), business_keys=BUSINESS_KEY_PREFIXES,
                    choice_lists=choice_lists)
    engine.when_cancelled(close_cancelled)  # a cancelled change or release leaves the forward schedule
    app.extensions[EXTENSION] = Changeflow(database, engine)
    notifier = Notifier(engine, app.config["CHANGEFLOW_NOTIFICATION_SETTINGS"] or from_environment(os.environ),
                        app.config["SECRET_KEY"])
    if app.config["CHANGEFLOW_NOTIFICATIONS"]:
        notifier.attach()
    app.extensions[NOTIFICATIONS] = notifier
    api.init_app(app)
    web.init_app(app, database, engine, forms=forms)
    cli.init_app(app)
    if app.config["CHANGEFLOW_TRUST_PROXY"]:
        # Behind a TLS-terminating proxy: trust its X-Forwarded-Proto/Host, so that session cookies are Secure.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_host=1)  # type: ignore[method-assign]

    if app.config["CHANGEFLOW_DEPLOY_BPMN"]:
        for outcome in deploy_folder(engine, ROOT / "bpmn", actor=SYSTEM_ACTOR):
            if outcome.created:
                log.info("deployed %s version %d", outcome.key, outcome.version)
    if app.config["CHANGEFLOW_DEMO_USERS"]:
        _create_demo_users(app, database, engine)
    if app.config["CHANGEFLOW_TIMER_THREAD"]:
        TimerThread(engine, interval=app.config["CHANGEFLOW_TIMER_INTERVAL"]).start()
        notifier.start_thread()  # beside the timers: a slow mail server never holds them up
    return app


def _create_demo_users(app: Flask, database: Database, engine: Engine) -> None:
    """On an empty database, create demo users and print their passwords and tokens (shown only now)."""
    with database.transaction() as session:
        if accounts.count_users(session) > 0:
            return
        demo = create_demo_users(session, now=engine.clock.now())
    catalog = {service.name for service in schedule_views.services(database)}
    for service in DEMO_SERVICES:  # a small catalog, so that the demo users can raise changes at once
        if service not in catalog:
            engine.run(CreateService(service), actor=SYSTEM_ACTOR)
    lines = ["", "Changeflow demo users (passwords and tokens are shown once; keep them):",
             f"  {'username':<22} {'roles':<22} {'password':<18} API token"]
    lines += [f"  {user.username:<22} {', '.join(f'{r}:{p}' for r, p in user.grants):<22} {user.password:<18} "
              f"{user.token}" for user in demo]
    lines.append("")
    print("\n".join(lines), flush=True)


def create_embedded_app() -> Flask:
    """The app as ``python app.py`` serves it: demo users and the timer thread on, unless switched off.

    Called in the HTTP server's worker process, so that the timer thread and the database connections live
    where the requests are served."""
    application = create_app({
        "CHANGEFLOW_DEMO_USERS": _env_flag("CHANGEFLOW_DEMO_USERS", True),
        "CHANGEFLOW_TIMER_THREAD": _env_flag("CHANGEFLOW_TIMER_THREAD", True),
    })
    host, port = _address()
    print(f"Changeflow is serving on http://{host}:{port}/ (sign in with a demo user above); the API is at "
          f"http://{host}:{port}/api (docs: http://{host}:{port}/api/docs)", flush=True)
    return application


def _address() -> tuple[str, int]:
    return os.environ.get("CHANGEFLOW_HOST", "127.0.0.1"), int(os.environ.get("CHANGEFLOW_PORT", "5000"))


def serve() -> None:
    """Serve ``create_embedded_app()`` with granian, a production HTTP server (Werkzeug's is for development
    only): one worker process, so that one timer thread fires the timers, with a few threads for requests.
    granian costs less CPU per request than gunicorn (bench/RESULTS.md, issue 16)."""
    from granian import Granian
    from granian.constants import Interfaces

    host, port = _address()
    Granian("app:create_embedded_app", factory=True, interface=Interfaces.WSGI, address=host, port=port,
            workers=1, blocking_threads=EMBEDDED_THREADS, working_dir=ROOT, log_access=False).serve()


if __name__ == "__main__":
    serve()
