from django.db import models

from civmil.core.models import Organisation, Person, Placed, ProtectedRecord


class Observation(ProtectedRecord, Placed):
    """Something seen in the field, at a place, on a day."""

    class Category(models.TextChoices):
        ROADBLOCK = "roadblock", "roadblock"
        CROWD = "crowd", "crowd"
        DAMAGE = "damage", "damage"

    spatial_index = True

    title = models.CharField("title", max_length=120)
    summary = models.TextField("summary", blank=True)
    source_notes = models.TextField("source notes", blank=True)
    category = models.CharField("category", max_length=16, choices=Category.choices, default=Category.CROWD)
    observed_on = models.DateField("observed on", null=True, blank=True)
    organisations = models.ManyToManyField(Organisation, related_name="+", blank=True, verbose_name="organisations")
    people = models.ManyToManyField(Person, related_name="+", blank=True, verbose_name="people")
    place_name = models.CharField("place", max_length=200, blank=True)

    class Meta:
        verbose_name = "observation"
        verbose_name_plural = "observations"
        constraints = Placed.Meta.constraints

    def __str__(self) -> str:
        return self.title
