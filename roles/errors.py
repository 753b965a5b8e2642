"""Errors of the roles package; each docstring is its default message."""

from __future__ import annotations


class RolesError(Exception):
    """The request about users or roles cannot be carried out."""

    def __init__(self, detail: str | None = None, field: str | None = None) -> None:
        self.detail = detail or (type(self).__doc__ or "").strip()
        self.field = field  # the request field at fault, when there is one
        super().__init__(self.detail)


class AuthenticationFailed(RolesError):
    """Send a valid API token as 'Authorization: Bearer <token>'."""


class Denied(RolesError):
    """You may not do this."""


class DutiesSeparated(Denied):
    """A separation-of-duties rule of the process bars you from this task."""


class Hidden(RolesError):
    """The resource does not exist, or you may not see it."""


class UnknownUser(RolesError):
    """There is no such user."""


class AlreadyExists(RolesError):
    """That already exists."""


class InvalidValue(RolesError):
    """A value in the request is not valid."""
