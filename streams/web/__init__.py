"""The screens: dispatch wall display, ED arrivals boards, their JSON API (docs/api.md)."""

from __future__ import annotations

from typing import Any


def attach_web(app: Any, **kwargs: Any) -> Any:
    """See `streams.web.service.attach_web`; imported late so `streams.web.board` stays light."""
    from streams.web.service import attach_web as attach

    return attach(app, **kwargs)
