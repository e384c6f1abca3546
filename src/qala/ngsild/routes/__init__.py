"""The NGSI-LD API's routes: entities, batch operations, discovery and @contexts.

Each module holds one group of resources and its router; ``qala.ngsild.capability`` mounts
them under ``/ngsi-ld/v1``. What the routes share (parameters, list responses) is in
:mod:`qala.ngsild.responses`.
"""
