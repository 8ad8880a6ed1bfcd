"""Tenancy and authentication: principals from JWTs or API keys, roles, erasure."""
