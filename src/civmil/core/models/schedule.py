"""Periodic job runs (civmil.core.schedule): one row per job and period, the proof it was enqueued."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PeriodicRun(models.Model):
    """Job ``name`` was enqueued for the period starting at ``period_start``.

    The unique constraint is the lock: of all the workers that tick in the same period, only the
    first inserts this row (and enqueues the job in the same transaction); the others get an
    ``IntegrityError`` and skip it.
    """

    id = models.BigAutoField(primary_key=True)
    name = models.CharField(_("job"), max_length=100)
    period_start = models.DateTimeField(_("period start"))
    enqueued_at = models.DateTimeField(_("enqueued"), default=timezone.now)
    #: Id of the django-tasks result, to find the run's outcome.
    task_result_id = models.CharField(_("task result"), max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-period_start", "name"]
        verbose_name = _("periodic run")
        verbose_name_plural = _("periodic runs")
        constraints = [
            models.UniqueConstraint(fields=["name", "period_start"], name="core_periodicrun_once_per_period"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.period_start.isoformat()}"
