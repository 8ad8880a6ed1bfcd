from tests.integration.own_service import own_service

__all__ = ["own_service"]
