"""Links between a listing's pages, the query's other parameters kept."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request


@dataclass(frozen=True, slots=True)
class Pager:
    """Links to the first, previous, next and last page, the query's other parameters kept (None: here)."""

    page: int
    pages: int
    first: str | None
    previous: str | None
    next: str | None
    last: str | None


def href(request: Request, **changed: object) -> str:
    """This page's address with `changed` parameters replaced (None: dropped)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in changed]
    kept += [(k, str(v)) for k, v in changed.items() if v is not None]
    return f"{request.url.path}?{urlencode(kept)}" if kept else request.url.path


def pager(request: Request, page: int, pages: int) -> Pager:
    def to(n: int) -> str | None:
        return None if n == page else href(request, page=n)

    return Pager(
        page=page,
        pages=pages,
        first=to(1),
        previous=to(page - 1) if page > 1 else None,
        next=to(page + 1) if page < pages else None,
        last=to(pages),
    )


def page_count(total: int, size: int) -> int:
    return max(1, -(-total // size))
