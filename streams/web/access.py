"""Who may see which screen: one token for the wall display, one per hospital.

Tokens come from configuration, never from code: `PATHWATCH_TOKENS` (JSON) or the file named
by `PATHWATCH_TOKENS_FILE`, shaped `{"wall": "...", "hospitals": {"H01": "..."}}`. A request
carries its token as `Authorization: Bearer <token>` or in the cookie the login form sets;
never in a URL.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from streams.settings import SettingsError

COOKIE = "pathwatch_token"
MIN_TOKEN_CHARS = 16
_SHAPE = '{"wall": "...", "hospitals": {"H01": "..."}}'


@dataclass(frozen=True, slots=True)
class Principal:
    role: Literal["wall", "hospital"]
    hospital_id: str | None = None


@dataclass(frozen=True, slots=True)
class Tokens:
    wall: str
    hospitals: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        every = [self.wall, *self.hospitals.values()]
        short = [t for t in every if len(t) < MIN_TOKEN_CHARS]
        if short:
            raise SettingsError(f"every token must have at least {MIN_TOKEN_CHARS} characters")
        if len(set(every)) != len(every):
            raise SettingsError("tokens must differ: one per screen")

    @classmethod
    def parse(cls, text: str, where: str = "PATHWATCH_TOKENS") -> Tokens:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{where}: not JSON ({exc.msg} at line {exc.lineno})") from None
        hospitals = obj.get("hospitals", {}) if isinstance(obj, dict) else None
        wall = obj.get("wall") if isinstance(obj, dict) else None
        if not isinstance(wall, str) or not isinstance(hospitals, dict):
            raise SettingsError(f"{where}: expected {_SHAPE}")
        if not all(isinstance(v, str) for v in hospitals.values()):
            raise SettingsError(f"{where}: every hospital token must be a string")
        return cls(wall, dict(hospitals))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Tokens:
        env = os.environ if env is None else env
        if env.get("PATHWATCH_TOKENS", "").strip():
            return cls.parse(env["PATHWATCH_TOKENS"])
        path = env.get("PATHWATCH_TOKENS_FILE", "").strip()
        if path:
            return cls.from_file(Path(path))
        raise SettingsError("no screen tokens: set PATHWATCH_TOKENS or PATHWATCH_TOKENS_FILE")

    @classmethod
    def from_file(cls, path: Path) -> Tokens:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SettingsError(f"cannot read tokens file {path}: {exc.strerror}") from None
        return cls.parse(text, str(path))

    def principal(self, token: str | None) -> Principal | None:
        """The holder of `token`; every configured token is compared, in constant time each."""
        if not token:
            return None
        given = token.encode()
        found: Principal | None = None
        if hmac.compare_digest(given, self.wall.encode()):
            found = Principal("wall")
        for hospital_id, expected in self.hospitals.items():
            if hmac.compare_digest(given, expected.encode()):
                found = Principal("hospital", hospital_id)
        return found


def may_see_wall(principal: Principal) -> bool:
    return principal.role == "wall"


def may_see_hospital(principal: Principal, hospital_id: str) -> bool:
    return principal.role == "hospital" and principal.hospital_id == hospital_id
