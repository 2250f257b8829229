"""Waiting on a page's state from the test side.

Playwright's `wait_for_function` polls by evaluating its predicate with `eval` inside the page,
which the screens' Content-Security-Policy (no 'unsafe-eval') forbids: it failed whenever the
predicate was not already true at the first check. `page.evaluate` runs through the browser's
debugging protocol, which the policy does not govern."""

from __future__ import annotations

import time
from typing import Any


def wait_until(page: Any, expression: str, arg: Any = None, timeout_ms: float = 30000) -> Any:
    """Poll `page.evaluate(expression, arg)` until it is truthy; its value."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout_ms:.0f} ms: {expression}")
        page.wait_for_timeout(50)
