"""The local stack: real servers as local processes, each behind Toxiproxy."""

from gameday.stack.supervisor import ComponentStatus, down, status, status_json, up

__all__ = ["ComponentStatus", "down", "status", "status_json", "up"]
