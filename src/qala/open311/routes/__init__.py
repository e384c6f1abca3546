"""The Open311 capability's HTTP API: GeoReport v2 under ``/open311/v2`` (``georeport``) and
the back office under ``/api/v1/open311`` (``backoffice``)."""
