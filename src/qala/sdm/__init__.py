"""FIWARE Smart Data Models, offline: JSON Schemas, validation and @context documents.

Everything here is read from files shipped inside the package; nothing is fetched.
"""

from qala.sdm.contexts import (
    DOMAIN_CONTEXT_URLS,
    SDM_CONTEXT_URL,
    builtin_contexts,
    context_url_for_type,
)
from qala.sdm.keyvalues import to_key_values
from qala.sdm.validation import ModelInfo, SmartDataModels, UnknownModelError

__all__ = [
    "DOMAIN_CONTEXT_URLS",
    "SDM_CONTEXT_URL",
    "ModelInfo",
    "SmartDataModels",
    "UnknownModelError",
    "builtin_contexts",
    "context_url_for_type",
    "to_key_values",
]
