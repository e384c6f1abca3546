"""Administration of the platform: tenants (cities) and their settings."""
