"""NGSI-LD subscriptions and notifications (HTTP and MQTT), delivered from a transactional
outbox: see :mod:`qala.subscriptions.engine` for the design and ``docs/subscriptions.md`` for
the user guide."""
