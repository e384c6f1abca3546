"""The dashboard: each city and the whole programme at a glance, live, in Russian, Kazakh and
English, served by Qala itself at ``/`` (``docs/dashboard.md``)."""
