"""The city data hub: its public face.

Everything other code may use of the hub is exported here; nothing else is imported from inside
it (the import-layer test, ``tests/test_layers.py``, keeps it so):

* :class:`Hub` — reads (``get_entity``, ``query``, ``find``, discovery) and the one write path
  (``transact`` with the named operations of :class:`Transaction`, the NGSI-LD entity and batch
  operations built on it), ``add_participant`` and ``add_validator``;
* the plain objects it speaks: :class:`Entity`, :class:`EntityQuery` and its parts,
  :class:`Change`, :class:`WriteContext`, :class:`Participant`;
* who is asking: :class:`Actor` and the access rule (:mod:`qala.hub.access`: roles, tenant
  binding, read scopes);
* the store contract the hub declares (:class:`Storage`, :class:`Tables`, :class:`Tenant`,
  :class:`RowBatch`, :class:`Statement`), which ``qala.store`` implements;
* the errors (:class:`HubError` and its kinds), which each API maps to its own format.
"""

from qala.hub import access, attributes, errors, regex
from qala.hub.access import Actor, ReadScope
from qala.hub.changes import Change, ChangeKind, Participant, WriteContext
from qala.hub.errors import (
    AlreadyExists,
    BadRequestData,
    Conflict,
    ContextNotAvailable,
    Forbidden,
    HubError,
    InvalidRequest,
    NotAcceptable,
    NotFound,
    OperationNotSupported,
    PayloadTooLarge,
    ServiceUnavailable,
    TooComplexQuery,
    TooManyResults,
    Unauthorized,
    UnknownTenant,
    UnsupportedMediaType,
)
from qala.hub.hub import BatchOutcome, Hub, UpsertMode
from qala.hub.model import (
    DEFAULT_TENANT,
    AttrValue,
    Entity,
    Instance,
    instances_of,
    iso_to_us,
    now_us,
    pack_instances,
    parse_datetime,
    us_to_iso,
    valid_tenant_name,
)
from qala.hub.query import (
    AttributeInfo,
    EntityFilter,
    EntityQuery,
    GeoFilter,
    Param,
    QueryResult,
    Selector,
    TypeInfo,
)
from qala.hub.storage import (
    EntityWrite,
    GeoRow,
    Planner,
    RowBatch,
    Statement,
    Storage,
    Tables,
    Tenant,
    WritePlan,
)
from qala.hub.transaction import AttributeOutcome, EntityValidator, Transaction

__all__ = [
    "DEFAULT_TENANT",
    "Actor",
    "AlreadyExists",
    "AttrValue",
    "AttributeInfo",
    "AttributeOutcome",
    "BadRequestData",
    "BatchOutcome",
    "Change",
    "ChangeKind",
    "Conflict",
    "ContextNotAvailable",
    "Entity",
    "EntityFilter",
    "EntityQuery",
    "EntityValidator",
    "EntityWrite",
    "Forbidden",
    "GeoFilter",
    "GeoRow",
    "Hub",
    "HubError",
    "Instance",
    "InvalidRequest",
    "NotAcceptable",
    "NotFound",
    "OperationNotSupported",
    "Param",
    "Participant",
    "PayloadTooLarge",
    "Planner",
    "QueryResult",
    "ReadScope",
    "RowBatch",
    "Selector",
    "ServiceUnavailable",
    "Statement",
    "Storage",
    "Tables",
    "Tenant",
    "TooComplexQuery",
    "TooManyResults",
    "Transaction",
    "TypeInfo",
    "Unauthorized",
    "UnknownTenant",
    "UnsupportedMediaType",
    "UpsertMode",
    "WriteContext",
    "WritePlan",
    "access",
    "attributes",
    "errors",
    "instances_of",
    "iso_to_us",
    "now_us",
    "pack_instances",
    "parse_datetime",
    "regex",
    "us_to_iso",
    "valid_tenant_name",
]
