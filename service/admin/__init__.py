"""Operator endpoints: the dead-letter queue and cache statistics."""
