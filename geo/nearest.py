"""Hospitals as destination candidates: capabilities, status and ETA from where the unit is.

    cands = candidates(region, (lat, lon), now, speeds, last_fix_ts, statuses)
    rec = pathways.destination.recommend(cands, pathway=..., triage_level=..., facts=..., now=now)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np

from geo.eta import DEFAULT_MODEL, Eta, SpeedModel, estimate_etas
from geo.regions import AreaType, Region
from pathways.destination import Candidate, HospitalAvailability
from pathways.events import HospitalStatus


def availability_from_status(event: HospitalStatus | None) -> HospitalAvailability:
    """The policy's view of the latest `hospital.status` event (None: nothing reported)."""
    if event is None:
        return HospitalAvailability()
    return HospitalAvailability(
        diversion=bool(event.diversion),
        cathlab_available=event.cathlab_available,
        ct_available=event.ct_available,
        or_available=event.or_available,
        icu_available=event.icu_available,
    )


def hospital_etas(
    region: Region,
    origin: tuple[float, float],
    now: datetime,
    speed_state: dict[str, Any],
    last_fix_ts: datetime | None,
    model: SpeedModel = DEFAULT_MODEL,
) -> dict[str, Eta]:
    """ETA to every hospital of the region, by hospital_id; the origin's area type sets speed.

    Outside every district the county speed (faster roads, sparser network) is used.
    """
    located = region.locate(*origin)
    area: AreaType = located[1] if located else "county"
    lats = np.array([h.lat for h in region.hospitals], dtype=np.float64)
    lons = np.array([h.lon for h in region.hospitals], dtype=np.float64)
    etas = estimate_etas(origin, lats, lons, area, now, speed_state, last_fix_ts, model)
    return {h.hospital_id: eta for h, eta in zip(region.hospitals, etas, strict=True)}


def candidates(
    region: Region,
    origin: tuple[float, float],
    now: datetime,
    speed_state: dict[str, Any],
    last_fix_ts: datetime | None,
    availability: Mapping[str, HospitalAvailability] | None = None,
    model: SpeedModel = DEFAULT_MODEL,
) -> list[Candidate]:
    """Every hospital as a `Candidate` (capabilities, availability, ETA seconds), by ETA."""
    etas = hospital_etas(region, origin, now, speed_state, last_fix_ts, model)
    statuses = availability or {}
    found = [
        Candidate(
            hospital_id=h.hospital_id,
            name=h.name,
            capabilities=h.capabilities,
            eta_s=etas[h.hospital_id].seconds,
            availability=statuses.get(h.hospital_id, HospitalAvailability()),
        )
        for h in region.hospitals
    ]
    return sorted(found, key=lambda c: (c.eta_s, c.hospital_id))
