"""Reports: the daily market report and the weekly portfolio report (HTML + Markdown, with
charts), stored in ``reports`` and on disk, delivered by email and Slack. See docs/reports.md.

Entry points (called by the reports DAG's tasks):

* ``ta_scheduler.reports.daily.build_daily_report(db, trade_date)``
* ``ta_scheduler.reports.weekly.build_weekly_report(db, week_end_date)``
* ``ta_scheduler.reports.delivery.deliver_report(db, kind, report_date)``
* ``python -m ta_scheduler.reports.portfolios add|list`` (operators)

Importing this package is cheap: pandas and matplotlib load inside the functions that use them.
"""
