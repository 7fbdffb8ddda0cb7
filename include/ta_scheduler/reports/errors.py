"""Errors the report jobs raise; each message names the report, the day and what to do."""

from __future__ import annotations


class AnalysisMissingError(RuntimeError):
    """The analysis a report is built from is not in the store for the day (yet).

    The reports DAG waits for the ``analysis_pipeline`` of the day; this error means it has
    not run (or failed) for that day.
    """


class ReportNotFoundError(LookupError):
    """No stored report of that kind and date: build it before delivering it."""


class DeliveryError(RuntimeError):
    """At least one configured channel failed; the failure is recorded in the report document."""


class CJKFontMissingError(RuntimeError):
    """No font with Chinese glyphs is installed, so chart labels would render as boxes."""
