"""Smart Data Models validation in the hub's write path, enabled per tenant.

A tenant whose settings hold ``"validation": "smart-data-models"`` has every written entity of a
type with a shipped Smart Data Model checked against the model's JSON Schema; an entity that
does not conform is refused (400 BadRequestData with the schema's complaints) and nothing is
written. Types without a model are not checked.
"""

from __future__ import annotations

from qala.hub import Tenant
from qala.hub.errors import BadRequestData
from qala.hub.model import Entity
from qala.jsonld.compiled import CompiledContext
from qala.ngsild.render import RenderOptions, render_entity
from qala.sdm.keyvalues import to_key_values
from qala.sdm.validation import SmartDataModels

SETTING = "validation"
SMART_DATA_MODELS = "smart-data-models"
_MAX_MESSAGES = 5


class SmartDataModelValidator:
    """A hub validator: ``(tenant, entity) -> None``, raising on a non-conforming entity."""

    def __init__(self, context: CompiledContext, models: SmartDataModels | None = None) -> None:
        self.context = context
        self.models = models or SmartDataModels()
        self._options = RenderOptions(format="normalized")

    def __call__(self, tenant: Tenant, entity: Entity) -> None:
        if tenant.settings.get(SETTING) != SMART_DATA_MODELS:
            return
        for type_iri in entity.types:
            term = self.context.compact(type_iri)
            if not self.models.has_model(term):
                continue
            document = render_entity(entity, self.context, self._options)
            document["type"] = term
            problems = self.models.validate(term, to_key_values(document))
            if problems:
                shown = "; ".join(problems[:_MAX_MESSAGES])
                more = len(problems) - _MAX_MESSAGES
                suffix = f" (and {more} more)" if more > 0 else ""
                raise BadRequestData(
                    f"entity {entity.id!r} does not conform to the Smart Data Model "
                    f"{term}: {shown}{suffix}",
                    model=term,
                    errors=problems,
                )
