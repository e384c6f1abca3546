"""Smart Data Models validation as a capability: the validator of ``sdm.validator`` joins the
hub's write path, checking the entities of tenants that turned validation on."""

from __future__ import annotations

from qala.capabilities import Capability
from qala.sdm.contexts import SDM_CONTEXT_URL
from qala.sdm.validator import SmartDataModelValidator
from qala.services import Services


def capability() -> Capability:
    async def start(services: Services) -> None:
        context = await services.contexts.compile(SDM_CONTEXT_URL)
        services.hub.add_validator(SmartDataModelValidator(context))

    return Capability(name="smart-data-models", start=start)
