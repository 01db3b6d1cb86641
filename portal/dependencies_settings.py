"""Settings shapes for the dependencies, shared by portal/settings.py and the tests that point
them somewhere else (a closed port, to see the portal with Redis down)."""


def redis_cache(url: str) -> dict:
    """Django's Redis cache at `url`, with short socket timeouts: an unreachable Redis fails a
    request in about a second (then DependencyDownMiddleware answers 503) instead of hanging it."""
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    }
