from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

_spec = importlib.util.spec_from_file_location(
    "board_kit", Path(__file__).with_name("board_kit.py")
)
assert _spec and _spec.loader
board_kit: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(board_kit)


@pytest.fixture
def kit() -> Any:
    return board_kit.BoardKit()


@pytest.fixture
def tokens() -> Any:
    return board_kit.TOKENS
