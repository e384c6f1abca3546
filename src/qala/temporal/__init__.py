"""Temporal history of city data and the NGSI-LD temporal API (see docs/temporal.md).

Other capabilities read history through :class:`HistoryReader` (raw series, calendar
aggregates and bulk hourly means, access-checked) and load it in bulk with :func:`load_history`.
"""

from qala.temporal.bulk import HistoryPoint, load_history
from qala.temporal.reader import CITY_ZONE, Bucket, HistoryReader, HourRow, Method, Per, Point
from qala.temporal.recorder import HistoryRecorder

__all__ = [
    "CITY_ZONE",
    "Bucket",
    "HistoryPoint",
    "HistoryReader",
    "HistoryRecorder",
    "HourRow",
    "Method",
    "Per",
    "Point",
    "load_history",
]
