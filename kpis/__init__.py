"""Process KPIs per practice and period, computed in SQL from the audit trail and the indexed mirror tables
(closed instances, their human tasks and events): never by loading a workflow.

Served as JSON (``/api/kpis``), CSV (``/api/kpis.csv``) and a dashboard (``/kpis``); the owners and managers of
a practice, and admins, may read them (``roles.policy.Action.VIEW_KPIS``).
"""

from __future__ import annotations

from kpis.definitions import metrics_of
from kpis.periods import MAX_PERIODS, Period, PeriodKind, period_of, periods_between, recent_periods
from kpis.report import KpiReport, PeriodKpis, build_report, percentile

__all__ = ["MAX_PERIODS", "KpiReport", "Period", "PeriodKind", "PeriodKpis", "build_report", "metrics_of",
           "percentile", "period_of", "periods_between", "recent_periods"]
