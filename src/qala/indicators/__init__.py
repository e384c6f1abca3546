"""City indicators: ISO 37120 / ISO 37122 / U4SSC computed from the hub's data, with
provenance and data quality; the national Smart City assessment; comparison across cities.

This package is the pure core: the catalogue, the calculators (over the :class:`Inputs`
Protocol of ``inputs.py``), values, the assessment, comparison and export. It reads nothing
but its own package data.
"""
