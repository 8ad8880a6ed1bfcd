"""`gameday seed`: a deterministic synthetic corpus loaded through the bulk API."""

from gameday.seed.generator import SeedPlan, generate_batches, tenant_names
from gameday.seed.loader import SeedResult, profile_tokens, seed_service

__all__ = [
    "SeedPlan",
    "SeedResult",
    "generate_batches",
    "profile_tokens",
    "seed_service",
    "tenant_names",
]
