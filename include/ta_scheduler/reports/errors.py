"""Errors the report jobs raise; each message names the report, the day and what to do."""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException


class AnalysisMissingError(RuntimeError):
    """The analysis a report is built from is not in the store for the day (yet).

    The reports DAG waits for the ``analysis_pipeline`` of the day; this error means it has
    not run (or failed) for that day.
    """


class ReportNotFoundError(LookupError):
    """No stored report of that kind and date: build it before delivering it."""


class DeliveryError(RuntimeError):
    """At least one configured channel failed; the failure is recorded in the report document."""


class CJKFontMissingError(RuntimeError, AirflowFailException):
    """No font with Chinese glyphs is installed, so chart labels would render as boxes.

    An ``AirflowFailException``: no retry installs a font, so the task fails at once, and the
    message says what to install (``make up`` does: ``scripts/install-deps.sh runtime``)."""
