"""Temporal history of city data and the NGSI-LD temporal API (see docs/temporal.md)."""

from qala.temporal.bulk import HistoryPoint, load_history
from qala.temporal.recorder import HistoryRecorder

__all__ = ["HistoryPoint", "HistoryRecorder", "load_history"]
