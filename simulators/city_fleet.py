"""The simulated fleet and the two simple policies of the city scenario.

Dispatch: the nearest available unit (straight-line distance from its station); when
every unit is busy the call waits for the first one to come back. Destination: the
nearest hospital able to treat the patient's condition and not on diversion.
A unit is dispatchable again once it is back at its station (a simplification: real
centers also dispatch units on their way back).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from geo.distance import haversine_m, haversine_one
from geo.regions import Hospital, Region, Station
from simulators.clinical import Patient


@dataclass(slots=True)
class Unit:
    unit_id: str
    station: Station
    lat: float
    lon: float
    free_at: datetime
    index: int = 0


class Fleet:
    """Units and, in step, numpy arrays of their home positions for the nearest search."""

    def __init__(self, region: Region, per_station: int, start: datetime) -> None:
        self.units = [
            Unit(f"{station.station_id}-A{k}", station, station.lat, station.lon, start)
            for station in region.stations
            for k in range(1, per_station + 1)
        ]
        if not self.units:
            raise ValueError("the fleet is empty: no stations or units_per_station < 1")
        self._lats = np.array([u.station.lat for u in self.units])
        self._lons = np.array([u.station.lon for u in self.units])
        self._free_at = np.full(len(self.units), start.timestamp())
        for index, unit in enumerate(self.units):
            unit.index = index

    def release(self, unit: Unit, moment: datetime) -> None:
        """The unit can be dispatched again from `moment` (back at its station)."""
        unit.free_at = moment
        self._free_at[unit.index] = moment.timestamp()

    def nearest_available(self, lat: float, lon: float,
                          moment: datetime) -> tuple[Unit, datetime]:
        """The unit to assign and when: now if one is free, else when the first is free.

        Free units are at their station, so the distance is from the station.
        """
        free = self._free_at <= moment.timestamp()
        if not free.any():
            first = self.units[int(np.argmin(self._free_at))]
            return first, first.free_at
        distance = np.where(free, haversine_m(lat, lon, self._lats, self._lons), np.inf)
        return self.units[int(np.argmin(distance))], moment


def _treats(hospital: Hospital, patient: Patient) -> bool:
    caps = hospital.capabilities
    if patient.stemi:
        return caps.pci
    if patient.lvo:
        return caps.thrombectomy
    if patient.stroke_kind is not None:
        return caps.stroke_center or caps.thrombolysis
    if patient.major_trauma:
        return caps.trauma_level in (1, 2)
    if patient.pathway == "maternal":
        return caps.maternal
    if patient.pathway == "pediatric":
        return caps.pediatric
    return True


def destination_for(patient: Patient, scene: tuple[float, float],
                    hospitals: Iterable[Hospital], diverted: set[str]) -> Hospital:
    """Nearest capable hospital not on diversion; falls back to capable, then to any."""
    everyone = list(hospitals)
    capable = [h for h in everyone if _treats(h, patient)]
    open_capable = [h for h in capable if h.hospital_id not in diverted]
    choices = open_capable or capable or everyone
    return min(choices, key=lambda h: (haversine_one(scene[0], scene[1], h.lat, h.lon),
                                       h.hospital_id))
