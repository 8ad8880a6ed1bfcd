"""The target profile: one YAML file describing a system under test (where it is,
how to authenticate, its traffic, its dependencies' proxies, its signals, ledger,
processes and hooks). docs/targets.md is the reference."""

from gameday.target.alerts import Alerts
from gameday.target.auth import Auth
from gameday.target.dependencies import Dependency, ToxiproxyServer
from gameday.target.errors import TargetProfileError
from gameday.target.hooks import REFERENCE_PROFILE, HookContext, HookFailed, Hooks, call_hook
from gameday.target.ledger import Ledger
from gameday.target.loader import load_profile, parse_profile
from gameday.target.processes import Process
from gameday.target.profile import TargetProfile
from gameday.target.schema import render_schema, target_json_schema
from gameday.target.signals import BreakerSignal, BreakerState, Signals
from gameday.target.traffic import Traffic

__all__ = [
    "REFERENCE_PROFILE",
    "Alerts",
    "Auth",
    "BreakerSignal",
    "BreakerState",
    "Dependency",
    "HookContext",
    "HookFailed",
    "Hooks",
    "Ledger",
    "Process",
    "Signals",
    "TargetProfile",
    "TargetProfileError",
    "ToxiproxyServer",
    "Traffic",
    "call_hook",
    "load_profile",
    "parse_profile",
    "render_schema",
    "target_json_schema",
]
