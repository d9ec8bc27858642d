from django.db import models
from django.utils.translation import gettext_lazy as _


class ContactChannel(models.TextChoices):
    MEETING = "meeting", _("Meeting")
    PHONE = "phone", _("Phone")
    RADIO = "radio", _("Radio")
    VISIT = "visit", _("Visit")
    MESSAGE = "message", _("Message")


class AreaKind(models.TextChoices):
    ADMINISTRATIVE = "admin", _("Administrative area")
    RESPONSIBILITY = "aor", _("Area of responsibility")


class AssignmentStatus(models.TextChoices):
    """Where a liaison assignment stands: its officer's own organisation assigns or confirms it."""

    CONFIRMED = "confirmed", _("Confirmed")
    PENDING = "pending", _("Waiting for the officer's organisation")
    REFUSED = "refused", _("Refused by the officer's organisation")
