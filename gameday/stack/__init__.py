"""The local stack: real servers as local processes, each behind Toxiproxy.

This is the stack's public API: code outside `gameday.stack` (chaos in particular)
imports from here, never from its modules (an import-linter contract in `make lint`).

    from gameday import stack
    stack.up(settings, print, only=["redis"])
    tracked = stack.read_tracked(settings.run_dir, "service")  # pid file, or None
"""

from gameday.stack.backup import (
    Backup,
    Destroyed,
    Restored,
    destroy_data,
    list_backups,
    parse_restore_target,
    restore,
    take_backup,
)
from gameday.stack.opensearch import (
    FOLLOWER_CHECK_BOUND_S,
    component_name,
    node_address,
    node_gid,
    node_name,
    node_transport_port,
)
from gameday.stack.process import Tracked, read_tracked
from gameday.stack.rabbitmq import RABBITMQCTL
from gameday.stack.rabbitmq import ctl_env as rabbitmq_ctl_env
from gameday.stack.rabbitmq import node_address as rabbitmq_node_address
from gameday.stack.rabbitmq import node_answers as rabbitmq_node_answers
from gameday.stack.rabbitmq import node_component as rabbitmq_node_component
from gameday.stack.rabbitmq import node_erlang_name as rabbitmq_node_erlang_name
from gameday.stack.redis_sentinel import ask_primary as ask_redis_primary
from gameday.stack.redis_sentinel import named_primaries as named_redis_primaries
from gameday.stack.redis_sentinel import primary_component as redis_primary_component
from gameday.stack.redis_sentinel import redis_proxy_port_of
from gameday.stack.registry import DEPENDENCIES
from gameday.stack.registry import NAMES as COMPONENT_NAMES
from gameday.stack.supervisor import (
    ComponentStatus,
    down,
    promote_replica,
    recorded_settings,
    status,
    status_json,
    up,
)

__all__ = [
    "COMPONENT_NAMES",
    "Backup",
    "DEPENDENCIES",
    "FOLLOWER_CHECK_BOUND_S",
    "component_name",
    "Destroyed",
    "ComponentStatus",
    "Restored",
    "Tracked",
    "destroy_data",
    "down",
    "list_backups",
    "node_address",
    "node_gid",
    "node_name",
    "node_transport_port",
    "parse_restore_target",
    "promote_replica",
    "RABBITMQCTL",
    "rabbitmq_ctl_env",
    "rabbitmq_node_answers",
    "rabbitmq_node_address",
    "rabbitmq_node_component",
    "rabbitmq_node_erlang_name",
    "ask_redis_primary",
    "named_redis_primaries",
    "read_tracked",
    "redis_primary_component",
    "redis_proxy_port_of",
    "recorded_settings",
    "restore",
    "status",
    "status_json",
    "take_backup",
    "up",
]
