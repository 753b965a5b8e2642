"""Helpers every blueprint uses: documented error responses and paginated lists."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from flask_smorest import Blueprint

from api.errors import PROBLEM_JSON
from api.schemas import ProblemSchema
from engine import Listing, PageRequest
from engine.store import PAGE_SIZE

PAGINATION_HEADER = "X-Pagination"


def problems(blp: Blueprint, *statuses: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Document the problem responses a view can give.

    400 and 401 are implied: every view needs a token, and any request can be malformed (bad JSON, a NUL
    character in the URL). One ``doc`` decorator for all of them: each ``alt_response`` would add a
    wrapper that runs on every request.
    """
    responses = {
        str(status): {"description": HTTPStatus(status).phrase, "content": {PROBLEM_JSON: {"schema": ProblemSchema}}}
        for status in sorted({400, 401, *statuses})
    }
    return blp.doc(responses=responses)


def page_request(args: dict[str, Any]) -> PageRequest:
    return PageRequest(args.get("page", 1), args.get("per_page", PAGE_SIZE))


def paged(listing: Listing, page: PageRequest) -> tuple[list[Any], dict[str, str]]:
    """The items plus the ``X-Pagination`` header, in flask-smorest's format."""
    metadata = Blueprint._make_pagination_metadata(page.page, page.per_page, listing.total)
    return listing.items, {PAGINATION_HEADER: json.dumps(metadata)}


PAGINATION_HEADERS = {PAGINATION_HEADER: {
    "description": "Pagination metadata: total, total_pages, first_page, last_page, page, previous_page, next_page.",
    "schema": {"type": "string"},
}}
