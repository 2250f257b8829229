from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.settings import SettingsError
from streams.web.access import Principal, Tokens, may_see_hospital, may_see_wall

GOOD = {"wall": "w" * 20, "hospitals": {"H01": "a" * 20, "H02": "b" * 20}}


def test_tokens_from_env_json_or_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(GOOD))
    from_file = Tokens.from_env({"PATHWATCH_TOKENS_FILE": str(path)})
    from_json = Tokens.from_env({"PATHWATCH_TOKENS": json.dumps(GOOD)})
    assert from_file == from_json
    assert from_file.principal("a" * 20) == Principal("hospital", "H01")
    assert from_file.principal("w" * 20) == Principal("wall")
    assert from_file.principal("a" * 19) is None and from_file.principal("") is None


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "no screen tokens"),
        ("{nope", "not JSON"),
        ('{"hospitals": {}}', "expected"),
        ('{"wall": "' + "w" * 20 + '", "hospitals": {"H01": 5}}', "must be a string"),
        ('{"wall": "short"}', "at least 16"),
        ('{"wall": "' + "w" * 20 + '", "hospitals": {"H01": "' + "w" * 20 + '"}}', "differ"),
    ],
)
def test_bad_token_configuration_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Tokens.from_env({"PATHWATCH_TOKENS": text} if text else {})


def test_missing_tokens_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="tokens file .*absent.json"):
        Tokens.from_env({"PATHWATCH_TOKENS_FILE": str(tmp_path / "absent.json")})


def test_who_may_see_what() -> None:
    wall, h01 = Principal("wall"), Principal("hospital", "H01")
    assert may_see_wall(wall) and not may_see_wall(h01)
    assert may_see_hospital(h01, "H01")
    assert not may_see_hospital(h01, "H02") and not may_see_hospital(wall, "H01")
