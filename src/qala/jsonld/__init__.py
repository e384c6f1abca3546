"""JSON-LD: the NGSI-LD core context built in, user contexts resolved and cached."""
