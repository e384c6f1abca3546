"""Open311 GeoReport v2: residents' service requests, routed to city services with SLAs.

The protocol core lives here, independent of HTTP and of the hub:

* ``model``: services, attributes, requests, updates and the GeoReport error;
* ``formats``: rendering in XML (the specification's mandatory format) and JSON;
* ``forms``: parsing ``POST requests`` / ``POST servicerequestupdates`` bodies and the query
  parameters of ``GET requests`` / ``GET servicerequestupdates``;
* ``catalogue``: each city's services (ru/kk/en), agencies and SLAs (package data);
* ``sla``: ``expected_datetime`` in Kazakh working hours, and a request's SLA state;
* ``privacy``: what public output may show (no personal data, IINs and phones masked);
* ``duplicates``: nearby requests of the same service, and residents' "+1";
* ``repository``: the back office's tables (migration branch ``open311``).
"""
