"""Context source registrations (``/csourceRegistrations``) and the ``/csourceSubscriptions``
resource of the NGSI-LD API (GS CIM 009 5.9, 5.10, 5.11)."""
