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
