"""The services a request may need besides the database, and how to tell that one is down.

Used by /healthz (each dependency checked and reported), by DependencyDownMiddleware (a request
that fails because one is unreachable gets a 503, not a 500) and the API's exception handler."""
import time

from django.core.cache import cache, caches
from django.db import connection


def _connection_errors() -> tuple:
    errors = [ConnectionError, TimeoutError]
    try:
        import redis.exceptions

        errors += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    except ImportError:  # pragma: no cover - redis is a dependency
        pass
    try:
        import kombu.exceptions

        errors += [kombu.exceptions.OperationalError]
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


DEPENDENCY_ERRORS = _connection_errors()


def is_dependency_down(exc: BaseException) -> bool:
    """Whether `exc` means the cache (Redis) or the broker could not be reached."""
    return isinstance(exc, DEPENDENCY_ERRORS)


def _timed(probe) -> dict:
    started = time.monotonic()
    try:
        detail = probe()
    except Exception as exc:  # noqa: BLE001 - any failure of a probe means "down"; say which
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}",
                "ms": round((time.monotonic() - started) * 1000, 1)}
    result = {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}
    if detail:
        result["backend"] = detail
    return result


def check_database() -> dict:
    def probe():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return connection.vendor
    return _timed(probe)


def check_cache() -> dict:
    """A write and a read: sign-in's two-factor limits, the API throttle and the worklist use it."""
    def probe():
        cache.set("healthz:probe", "1", 10)
        if cache.get("healthz:probe") != "1":
            raise RuntimeError("the cache did not keep a value")
        return caches["default"].__class__.__name__
    return _timed(probe)


def check_broker() -> dict:
    """A connection to the Celery broker (Redis, or the folders of the embedded mode)."""
    def probe():
        from portal.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            return conn.transport_cls if isinstance(conn.transport_cls, str) else conn.transport.driver_type
    return _timed(probe)
