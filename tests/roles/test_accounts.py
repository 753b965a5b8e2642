"""roles/accounts.py on its own: users, hashed tokens, authentication and role assignments (both databases)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from roles import accounts
from roles.errors import AlreadyExists, AuthenticationFailed, InvalidValue, UnknownUser
from roles.models import ApiToken, RoleAssignment, User

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def pat(database):
    """A user 'pat' with a manager role in change; returns pat's token."""
    with database.transaction() as session:
        user = accounts.create_user(session, "pat", now=NOW, display_name="Pat", email="pat@example.com")
        accounts.grant(session, user, "manager", "change", granted_by="test", now=NOW)
        _row, token = accounts.issue_token(session, user, now=NOW)
    return token


def stored_text(database) -> str:
    """Every value of every row of the roles tables, as one text."""
    with database.snapshot() as session:
        values = []
        for model in (User, ApiToken, RoleAssignment):
            for row in session.scalars(select(model)):
                values.extend(str(getattr(row, column.key)) for column in model.__table__.columns)
        return " ".join(values)


# -- users ----------------------------------------------------------------------------------------------


def test_create_and_find_a_user(database):
    with database.transaction() as session:
        accounts.create_user(session, "alice", now=NOW, display_name="Alice", email="alice@example.com")

    with database.snapshot() as session:
        user = accounts.get_user(session, "alice")
        assert (user.username, user.display_name, user.email, user.is_active, user.created_at) == (
            "alice", "Alice", "alice@example.com", True, NOW)
        assert accounts.find_user(session, "bob") is None
        with pytest.raises(UnknownUser, match="There is no user 'bob'"):
            accounts.get_user(session, "bob")


@pytest.mark.parametrize("username", ["", "Alice", "al ice", "-alice", "a" * 101, "alice!", "ali\x00ce"])
def test_a_username_must_be_a_lowercase_word(database, username):
    with database.transaction() as session, pytest.raises(InvalidValue) as caught:
        accounts.create_user(session, username, now=NOW)

    assert caught.value.field == "username"


def test_a_username_is_taken_once(database, pat):
    with database.transaction() as session, pytest.raises(AlreadyExists) as caught:
        accounts.create_user(session, "pat", now=NOW)

    assert caught.value.field == "username"


def test_users_are_listed_by_name_page_by_page(database):
    with database.transaction() as session:
        for name in ("carol", "alice", "bob"):
            accounts.create_user(session, name, now=NOW)

    with database.snapshot() as session:
        users, total = accounts.list_users(session, offset=1, limit=1)
        assert ([user.username for user in users], total) == (["bob"], 3)
        assert accounts.count_users(session) == 3


# -- tokens ---------------------------------------------------------------------------------------------


def test_a_token_is_random_and_stored_only_as_its_sha256(database, pat):
    with database.transaction() as session:
        user = accounts.get_user(session, "pat")
        _row, second = accounts.issue_token(session, user, now=NOW)

    with database.snapshot() as session:
        hashes = [row.token_hash for row in accounts.tokens_of(session, accounts.get_user(session, "pat"))]
    assert hashes == [hashlib.sha256(pat.encode()).hexdigest(), hashlib.sha256(second.encode()).hexdigest()]
    assert pat != second and pat.startswith("cf_") and len(pat) > 40
    text = stored_text(database)
    assert pat not in text and second not in text
    assert pat[3:20] not in text


def test_a_token_authenticates_its_user_with_their_roles(database, pat):
    with database.snapshot() as session:
        authentication = accounts.authenticate(session, pat, now=NOW)

    assert authentication.principal.username == "pat" and authentication.principal.display_name == "Pat"
    assert authentication.principal.grants == frozenset({("manager", "change")})
    assert authentication.record_use is True  # never used yet


@pytest.mark.parametrize("token", ["", "cf_wrong", "x" * 5000])
def test_an_unknown_token_is_refused(database, pat, token):
    with database.snapshot() as session, pytest.raises(AuthenticationFailed, match="not valid"):
        accounts.authenticate(session, token, now=NOW)


def test_a_revoked_token_is_refused_and_revoking_again_keeps_the_first_time(database, pat):
    with database.transaction() as session:
        token_id = accounts.authenticate(session, pat, now=NOW).token_id
        accounts.revoke_token(session, token_id, now=NOW)
    with database.transaction() as session:
        again = accounts.revoke_token(session, token_id, now=NOW + timedelta(days=1))
        assert again.revoked_at == NOW

    with database.snapshot() as session, pytest.raises(AuthenticationFailed, match="revoked"):
        accounts.authenticate(session, pat, now=NOW)


def test_revoking_an_unknown_token_fails(database):
    with database.transaction() as session, pytest.raises(UnknownUser, match="no token 42"):
        accounts.revoke_token(session, 42, now=NOW)


def test_a_token_works_until_it_expires(database, pat):
    with database.transaction() as session:
        user = accounts.get_user(session, "pat")
        _row, token = accounts.issue_token(session, user, now=NOW, expires_at=NOW + timedelta(hours=1))

    with database.snapshot() as session:
        assert accounts.authenticate(session, token, now=NOW + timedelta(minutes=59)).principal.username == "pat"
        with pytest.raises(AuthenticationFailed, match="expired"):
            accounts.authenticate(session, token, now=NOW + timedelta(hours=1))


def test_the_expiry_is_stored_in_utc(database, pat):
    paris = timezone(timedelta(hours=1))
    with database.transaction() as session:
        row, _token = accounts.issue_token(session, accounts.get_user(session, "pat"), now=NOW,
                                           expires_at=datetime(2026, 6, 1, 12, 0, tzinfo=paris))
        assert row.expires_at == datetime(2026, 6, 1, 11, 0, tzinfo=UTC) and row.expires_at.tzinfo == UTC


@pytest.mark.parametrize("expires_at, message", [
    (NOW, "in the future"),
    (NOW - timedelta(days=1), "in the future"),
    (datetime(2027, 1, 1), "timezone"),
    (datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-2))), "out of range"),
])
def test_an_expiry_must_be_a_future_moment_in_range(database, pat, expires_at, message):
    with database.transaction() as session, pytest.raises(InvalidValue, match=message) as caught:
        accounts.issue_token(session, accounts.get_user(session, "pat"), now=NOW, expires_at=expires_at)

    assert caught.value.field == "expires_at"


def test_a_deactivated_users_tokens_are_refused(database, pat):
    with database.transaction() as session:
        accounts.get_user(session, "pat").is_active = False

    with database.snapshot() as session, pytest.raises(AuthenticationFailed, match="deactivated"):
        accounts.authenticate(session, pat, now=NOW)


def test_a_tokens_use_is_worth_recording_at_most_every_few_minutes(database, pat):
    with database.transaction() as session:
        accounts.record_token_use(session, accounts.authenticate(session, pat, now=NOW).token_id, now=NOW)

    with database.snapshot() as session:
        assert accounts.authenticate(session, pat, now=NOW + timedelta(minutes=4)).record_use is False
        assert accounts.authenticate(session, pat,
                                     now=NOW + accounts.LAST_USED_RESOLUTION).record_use is True
        [row] = accounts.tokens_of(session, accounts.get_user(session, "pat"))
        assert row.last_used_at == NOW


# -- role assignments -----------------------------------------------------------------------------------


def test_grant_is_idempotent_and_revoke_removes_it(database, pat):
    with database.transaction() as session:
        user = accounts.get_user(session, "pat")
        first = accounts.grant(session, user, "owner", "release", granted_by="root", now=NOW)
        again = accounts.grant(session, user, "owner", "release", granted_by="someone-else", now=NOW)
        assert again.id == first.id and again.granted_by == "root"
        assert accounts.principal_of(user).grants == frozenset({("manager", "change"), ("owner", "release")})

    with database.transaction() as session:
        accounts.revoke(session, first.id)
    with database.snapshot() as session:
        user = accounts.get_user(session, "pat")
        assert accounts.find_assignment(session, user, "owner", "release") is None
        assert accounts.find_assignment(session, user, "manager", "change") is not None
        with pytest.raises(UnknownUser):
            accounts.revoke(session, first.id)


def test_admin_is_always_granted_for_every_practice(database, pat):
    with database.transaction() as session:
        user = accounts.get_user(session, "pat")
        assert accounts.grant(session, user, "admin", "", granted_by="root", now=NOW).practice == "*"
        with pytest.raises(InvalidValue, match="admin is a global role") as caught:
            accounts.grant(session, user, "admin", "change", granted_by="root", now=NOW)
    assert caught.value.field == "practice"


@pytest.mark.parametrize("role, practice, field", [
    ("wizard", "change", "role"), ("", "change", "role"), ("Manager", "change", "role"),
    ("manager", "Change", "practice"), ("manager", "", "practice"), ("manager", "p" * 51, "practice"),
    ("manager", "change board", "practice"),
])
def test_a_grant_needs_a_known_role_and_a_practice_word(database, pat, role, practice, field):
    with database.transaction() as session, pytest.raises(InvalidValue) as caught:
        accounts.grant(session, accounts.get_user(session, "pat"), role, practice, granted_by="root", now=NOW)

    assert caught.value.field == field


def test_assignments_are_listed_by_user_role_and_practice(database, pat):
    with database.transaction() as session:
        sam = accounts.create_user(session, "sam", now=NOW)
        accounts.grant(session, sam, "manager", "release", granted_by="root", now=NOW)
        accounts.grant(session, sam, "practitioner", "*", granted_by="root", now=NOW)

    with database.snapshot() as session:
        def listed(**filters):
            assignments, total = accounts.list_assignments(session, **filters)
            assert total == len(assignments)
            return [(a.user.username, a.role, a.practice) for a in assignments]

        assert listed() == [("pat", "manager", "change"), ("sam", "manager", "release"), ("sam", "practitioner", "*")]
        assert listed(username="sam", role="manager") == [("sam", "manager", "release")]
        assert listed(practice="*") == [("sam", "practitioner", "*")]
        assert listed(username="nobody") == []
        page, total = accounts.list_assignments(session, offset=1, limit=1)
        assert ([(a.user.username, a.role) for a in page], total) == ([("sam", "manager")], 3)


@pytest.mark.parametrize("text, grant", [
    ("manager:change", ("manager", "change")), ("owner:*", ("owner", "*")), ("practitioner", ("practitioner", "*")),
    ("admin", ("admin", "*")), ("admin:*", ("admin", "*")),
])
def test_parse_grant(text, grant):
    assert accounts.parse_grant(text) == grant


@pytest.mark.parametrize("text", ["wizard:change", "manager:Change", "admin:change", ":change", "manager:a b"])
def test_parse_grant_refuses_what_is_not_a_grant(text):
    with pytest.raises(InvalidValue):
        accounts.parse_grant(text)
