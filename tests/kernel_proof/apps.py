from typing import Any

from django.apps import AppConfig

from civmil.core.choices import Level


def _derived(actor: Any, observation: Any) -> dict[str, Any]:
    """What a reader without a view learns of an observation: its category and its day."""
    return {"category": observation.category,
            "observed_on": observation.observed_on.isoformat() if observation.observed_on else None}


class KernelProofConfig(AppConfig):
    name = "tests.kernel_proof"
    label = "kernel_proof"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from civmil.core import registry
        from civmil.core.registry import DERIVED, FULL, REDUCED, FieldSpec
        from tests.kernel_proof.models import Observation

        registry.register(registry.RecordType(
            model=Observation,
            levels=tuple(Level),
            fields=(
                FieldSpec("title"),
                FieldSpec("summary", search=True),
                FieldSpec("source_notes", views=(FULL,), search=True, in_list=False),
                FieldSpec("category", views=(FULL, REDUCED, DERIVED), filter=True),
                FieldSpec("observed_on", views=(FULL, REDUCED, DERIVED), filter=True, sort=True),
                FieldSpec("organisations"),
                FieldSpec("people"),
                FieldSpec("geometry", views=(FULL,), in_list=False),
                FieldSpec("place_name", search=True),
            ),
            threads=True,
            attachments=True,
            derive=_derived,
            layer=registry.MapLayer(style="category", time=("observed_on",)),
        ))
