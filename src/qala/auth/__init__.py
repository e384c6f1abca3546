"""Access control: authentication (API keys, OIDC tokens), the role policy, the audit log."""
