"""Former home of :class:`~ta_scheduler.waits.triggers.VendorReadyTrigger`, kept as an alias.

Airflow stores each deferred task's trigger by class path; deferrals stored before the trigger
moved name this path, and the triggerer imports it to resume them. Remove this module once the
metadata DB's ``trigger`` table holds no row with this classpath.
"""

from ta_scheduler.waits.triggers import VendorReadyTrigger

__all__ = ["VendorReadyTrigger"]
