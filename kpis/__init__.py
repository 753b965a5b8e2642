"""Process KPIs per practice and period, computed in SQL from the audit trail and the indexed mirror tables
(closed instances, their human tasks and events): never by loading a workflow. ``kpi_record`` keeps one row
of figures per closed record, derived from those tables in SQL when a report finds it behind.

Served as JSON (``/api/kpis``), CSV (``/api/kpis.csv``) and a dashboard (``/kpis``); the owners and managers of
a practice, and admins, may read them (``roles.policy.Action.VIEW_KPIS``).
"""

from __future__ import annotations

from kpis.definitions import metrics_of
from kpis.periods import MAX_PERIODS, Period, PeriodKind, period_of, periods_between, recent_periods
from kpis.records import RefreshKpiRecords
from kpis.report import KpiReport, PeriodKpis, build_report, kpi_report, percentile

__all__ = ["MAX_PERIODS", "KpiReport", "Period", "PeriodKind", "PeriodKpis", "RefreshKpiRecords", "build_report",
           "kpi_report", "metrics_of", "percentile", "period_of", "periods_between", "recent_periods"]
