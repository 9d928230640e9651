"""Notion's request budget: the project's one limiter (`soundcloud_sync.ratelimit`).

Notion allows an average of about 3 requests per second per integration; every thread,
process and (with the catalog on PostgreSQL) machine that talks to it shares one
bucket, named ``notion``.
"""

from ..ratelimit import RateLimiter, SharedRateLimiter

__all__ = ["RateLimiter", "SharedRateLimiter"]
