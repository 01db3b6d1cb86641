"""Settings for the test suite: the real database from DATABASE_URL (PostgreSQL in CI),
tasks run in-process unless a test starts a real worker, fast password hashing."""
from portal.settings import *  # noqa: F401,F403

CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = "cache+memory://"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SITE_URL = "http://testserver"
# Tests run inside a transaction that a second connection cannot see; the pipelined writer
# is exercised by its own transactional test.
INTAKE_PIPELINED = False
# Reading and checking thousands of tiny test files in the worker's own process saves a child
# process start-up (~0.3 s) each; the tests of the time and memory limits (and the browser and
# real-worker tests) turn it off and run the child (collections_work.placements.intake.sandbox).
INTAKE_SANDBOX_IN_PROCESS = True

# SQLite: a file, not memory, so a worker thread started by a browser test sees the same
# database as the live server (one file per test process).
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    import os
    import tempfile

    DATABASES["default"]["TEST"] = {"NAME": os.path.join(tempfile.gettempdir(), f"portal-test-{os.getpid()}.sqlite3")}  # noqa: F405
