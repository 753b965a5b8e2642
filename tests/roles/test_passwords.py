"""Passwords and sign-in for people: argon2 hashes, throttled failures, session epochs (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roles import accounts
from roles.errors import AuthenticationFailed, InvalidValue

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


@pytest.fixture
def pat(database):
    with database.transaction() as session:
        user = accounts.create_user(session, "pat", now=NOW)
        accounts.grant(session, user, "manager", "change", granted_by="test", now=NOW)
        accounts.set_password(session, user, PASSWORD, now=NOW)
    return "pat"


def sign_in(database, username, password, now=NOW):
    """One sign-in attempt in its own transaction (committed even when it fails, as the web app does)."""
    with database.transaction() as session:
        try:
            return accounts.verify_sign_in(session, username, password, now=now)
        except AuthenticationFailed as error:
            return error


def user(database, username="pat"):
    with database.snapshot() as session:
        return accounts.get_user(session, username)


def test_the_password_is_stored_as_an_argon2id_hash_only(database, pat):
    stored = user(database).password_hash

    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_the_right_password_signs_in_with_the_users_roles(database, pat):
    principal = sign_in(database, "pat", PASSWORD)

    assert principal.username == "pat" and principal.grants == frozenset({("manager", "change")})


@pytest.mark.parametrize("username, password", [("pat", "wrong password"), ("ghost", PASSWORD),
                                                ("Not Valid!", PASSWORD), ("pat", "")])
def test_a_wrong_password_or_unknown_user_gets_the_same_answer(database, pat, username, password):
    failure = sign_in(database, username, password)

    assert isinstance(failure, AuthenticationFailed) and failure.detail == accounts.SIGN_IN_REFUSED


def test_a_user_without_a_password_cannot_sign_in(database):
    with database.transaction() as session:
        accounts.create_user(session, "tokenonly", now=NOW)

    assert sign_in(database, "tokenonly", "").detail == accounts.SIGN_IN_REFUSED


def test_repeated_failures_throttle_the_account_with_growing_delays(database, pat):
    for _ in range(accounts.FREE_FAILURES):
        assert not isinstance(sign_in(database, "pat", "nope nope nope"), accounts.SignInThrottled)
    assert user(database).sign_in_blocked_until is None

    sign_in(database, "pat", "nope nope nope")  # the fifth failure starts the throttle
    throttled = sign_in(database, "pat", PASSWORD)  # even the right password waits

    assert isinstance(throttled, accounts.SignInThrottled) and throttled.retry_after == 30
    assert user(database).failed_sign_ins == accounts.FREE_FAILURES + 1
    later = NOW + timedelta(seconds=31)
    sign_in(database, "pat", "nope nope nope", now=later)  # the sixth failure doubles the wait
    assert user(database).sign_in_blocked_until == later + timedelta(seconds=60)
    success = sign_in(database, "pat", PASSWORD, now=later + timedelta(seconds=61))
    assert success.username == "pat"
    assert (user(database).failed_sign_ins, user(database).sign_in_blocked_until) == (0, None)


def test_the_throttle_never_exceeds_its_cap(database, pat):
    moment, delays = NOW, []
    for _ in range(20):
        sign_in(database, "pat", "nope nope nope", now=moment)
        blocked = user(database).sign_in_blocked_until
        if blocked is not None:
            delays.append(blocked - moment)
            moment = blocked

    assert delays[:3] == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert max(delays) == accounts.MAX_DELAY == delays[-1]


def test_a_disabled_user_cannot_sign_in_and_their_sessions_end(database, pat):
    epoch = user(database).session_epoch
    with database.reading() as connection:
        assert accounts.session_principal(connection, "pat", epoch).username == "pat"
    with database.transaction() as session:
        accounts.set_active(session, accounts.get_user(session, "pat"), False)

    assert "disabled" in sign_in(database, "pat", PASSWORD).detail
    with database.reading() as connection, pytest.raises(AuthenticationFailed, match="disabled"):
        accounts.session_principal(connection, "pat", epoch)


def test_a_new_password_ends_older_sessions(database, pat):
    epoch = user(database).session_epoch
    with database.transaction() as session:
        accounts.set_password(session, accounts.get_user(session, "pat"), "another good one", now=NOW)

    with database.reading() as connection:
        with pytest.raises(AuthenticationFailed, match="session has ended"):
            accounts.session_principal(connection, "pat", epoch)
        assert accounts.session_principal(connection, "pat", epoch + 1).username == "pat"
    assert isinstance(sign_in(database, "pat", PASSWORD), AuthenticationFailed)
    assert sign_in(database, "pat", "another good one").username == "pat"


@pytest.mark.parametrize("password", ["short", "x" * 1001, "pat", "  PAT  "])
def test_weak_passwords_are_refused(database, pat, password):
    with database.transaction() as session, pytest.raises(InvalidValue) as caught:
        accounts.set_password(session, accounts.get_user(session, "pat"), password, now=NOW)

    assert caught.value.field == "password"


def test_holders_lists_active_users_per_role_and_practice(database, pat):
    with database.transaction() as session:
        everywhere = accounts.create_user(session, "wide", now=NOW)
        accounts.grant(session, everywhere, "manager", "*", granted_by="test", now=NOW)
        gone = accounts.create_user(session, "gone", now=NOW)
        accounts.grant(session, gone, "manager", "change", granted_by="test", now=NOW)
        accounts.set_active(session, gone, False)

    with database.snapshot() as session:
        found = accounts.holders(session, [("manager", "change"), ("manager", "release"), ("owner", "change")])

    assert found == {("manager", "change"): ["pat", "wide"], ("manager", "release"): ["wide"],
                     ("owner", "change"): []}
