"""Settings for the collections portal, all read from the environment.

Defaults run on a laptop with nothing installed (SQLite, a filesystem Celery broker, mail
printed to the console). Production values arrive only through variables; see README.md.
"""
import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from portal.dependencies_settings import redis_cache
from portal.env import env_bool, env_fernet_keys, env_int, env_list, env_str, env_trusted_proxies

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))

PRODUCTION = env_bool("PORTAL_PRODUCTION", False)
DEBUG = env_bool("DEBUG", False)
if PRODUCTION:
    SECRET_KEY = env_str("SECRET_KEY")
else:
    SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-change-me-in-production-0123456789")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_celery_beat",
    "portal",
    "accounts",
    "collections_work",
    "payments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "portal.middleware.SecurityHeadersMiddleware",
    "portal.middleware.RequestContextMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.middleware.QueryNulMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.TenantScopeMiddleware",
    "accounts.middleware.StaffMfaRequiredMiddleware",
    "portal.middleware.UserTimezoneMiddleware",
    "portal.middleware.DebtorDataNoStoreMiddleware",
    "portal.middleware.DependencyDownMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.membership",
            ],
        },
    },
]

# --- Database: PostgreSQL through DATABASE_URL, SQLite for the embedded mode --------------
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "portal.sqlite3",
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Hot statements (a payment post's) are prepared once per PostgreSQL session (portal.rows). Turn
# off behind a pooler in transaction mode (PgBouncer's pool_mode=transaction), which hands a
# session to another client between transactions.
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)

# --- Redis (broker, results, cache) or the serverless embedded equivalents ---------------
REDIS_URL = env_str("REDIS_URL", "")
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 6 * 3600)  # seconds; see below
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CACHES = {"default": redis_cache(REDIS_URL)}
    # A task taken by a worker and not acknowledged within this many seconds (acks_late: until it
    # ends) is handed to another worker. It must be longer than the longest countdown (an email's
    # last retry, EMAIL_RETRY_SECONDS * 2**(EMAIL_MAX_ATTEMPTS - 2)) and the longest task, or Redis
    # would deliver a waiting task twice; deferrals use no countdown (beat re-offers them).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
else:
    BROKER_DIR = VAR_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "data_folder_processed": str(BROKER_DIR / "processed"),
        "store_processed": False,
        # Which queues each exchange routes to (one file per exchange); kombu's default is
        # ./control, in whatever folder the process was started from.
        "control_folder": str(BROKER_DIR / "control"),
    }
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'results'}"
    # The embedded broker and result store are folders: make them, so any manage.py command works
    # on a fresh checkout, not only `up` (which makes them too).
    for _folder in (BROKER_DIR / "queue", BROKER_DIR / "processed", BROKER_DIR / "control", VAR_DIR / "results"):
        _folder.mkdir(parents=True, exist_ok=True)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Beat's schedule lives in the database (django-celery-beat; Django admin, "Periodic tasks"); its
# defaults are portal/beat.py DEFAULT_SCHEDULE, installed by a migration and never overwritten.
# CELERY_BEAT_SCHEDULE stays empty: DatabaseScheduler would write it over the admin's changes.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {}
CELERY_TIMEZONE = "UTC"

# --- Auth: email login through allauth, TOTP MFA, invitation-only sign-up ----------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_ADAPTER = "accounts.adapters.PortalAccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Collections portal] "
# The password lockout is the portal's own (accounts/lockout.py), counted in the database so it
# holds when Redis is down. Within LOGIN_LOCKOUT_WINDOW_MINUTES: LOGIN_LOCKOUT_ATTEMPTS failures for
# one address from one IP lock that address for that IP only (an emailed link unlocks it);
# LOGIN_SLOWDOWN_AFTER failures for one address from any IPs make each further try for it wait
# (1 s, doubling, at most LOGIN_SLOWDOWN_MAX_SECONDS) without blocking it; LOGIN_IP_LOCKOUT_ATTEMPTS
# failures from one IP, whatever the addresses, lock that IP (password spraying).
if "LOGIN_FAILED_LIMIT" in os.environ:
    raise ImproperlyConfigured(
        "LOGIN_FAILED_LIMIT is no longer read: the lockout is set by LOGIN_LOCKOUT_ATTEMPTS, "
        "LOGIN_LOCKOUT_WINDOW_MINUTES, LOGIN_SLOWDOWN_AFTER and LOGIN_IP_LOCKOUT_ATTEMPTS (README, Security).")
LOGIN_LOCKOUT_WINDOW_MINUTES = env_int("LOGIN_LOCKOUT_WINDOW_MINUTES", 15)
LOGIN_LOCKOUT_ATTEMPTS = env_int("LOGIN_LOCKOUT_ATTEMPTS", 5)
LOGIN_SLOWDOWN_AFTER = env_int("LOGIN_SLOWDOWN_AFTER", 10)
LOGIN_SLOWDOWN_MAX_SECONDS = env_int("LOGIN_SLOWDOWN_MAX_SECONDS", 60)
LOGIN_IP_LOCKOUT_ATTEMPTS = env_int("LOGIN_IP_LOCKOUT_ATTEMPTS", 50)
LOGIN_UNLOCK_LINK_MINUTES = env_int("LOGIN_UNLOCK_LINK_MINUTES", 60)
ACCOUNT_RATE_LIMITS = {
    # allauth counts two-factor code attempts per user under "login_failed" (in the cache); the
    # password attempts it would also count there go through accounts/lockout.py instead.
    "login_failed": "5/15m/key",
    # Sign-in POSTs per IP: covered by LOGIN_IP_LOCKOUT_ATTEMPTS, so signing in needs no cache.
    "login": "",
    "reset_password": "20/m/ip,5/m/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Collections portal"
MFA_ADAPTER = "allauth.mfa.adapter.DefaultMFAAdapter"

# --- Email: console in the embedded mode, SMTP through variables --------------------------
EMAIL_HOST = env_str("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 25)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
else:
    EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Collections portal <no-reply@portal.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"api_key": env_str("API_RATE", "600/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Collections portal API",
    "DESCRIPTION": "Place and track debtor accounts with a client API key, sent as the header "
                   "`Authorization: Api-Key <key>`.",
    "VERSION": "1",
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our static files: the docs work offline
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets that several schemas use under the same field name get one name each.
    "ENUM_NAME_OVERRIDES": {"StatusEnum": "collections_work.api.placement_files.ACCOUNT_STATUSES",
                            "PlacementStatusEnum": "collections_work.api.placement_files.PLACEMENT_STATUSES",
                            "DebtPurposeEnum": "collections_work.api.placement_files.DEBT_PURPOSES"},
}

# --- Internationalisation: stored in UTC, shown in the viewer's zone ---------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files, served by WhiteNoise so the embedded mode needs no web server ---------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

# --- Security ---------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Content-Security-Policy (django-csp), on every response: our own origin only, no inline script,
# no eval. `data:` images are Pico CSS's icons and the TOTP QR code. A page that needs another
# host adds it for that view alone with a decorator from portal/security.py (the debtor's payment
# page: `allow_stripe`); see README "Security".
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Permissions-Policy (portal.middleware.SecurityHeadersMiddleware): browser features no page uses
# are off for the portal and anything it embeds; payment only for the portal itself.
PERMISSIONS_POLICY = {
    "accelerometer": [], "autoplay": [], "camera": [],
    "display-capture": [], "encrypted-media": [], "geolocation": [], "gyroscope": [], "hid": [],
    "magnetometer": [], "microphone": [], "midi": [], "payment": ["self"], "serial": [], "usb": [],
    "xr-spatial-tracking": [], "screen-wake-lock": [], "idle-detection": [],
}

# Apps whose pages show debtor details: every response of their views is `Cache-Control: private,
# no-store` (portal.middleware.DebtorDataNoStoreMiddleware), so no browser or proxy keeps a copy.
DEBTOR_DATA_APPS = ("collections_work", "payments")

# The reverse proxies in front of the portal (portal/client_ip.py): none by default, so
# X-Forwarded-For is ignored; a count ("1") or the proxies' networks ("10.0.0.0/8,172.16.0.0/12").
TRUSTED_PROXIES = env_trusted_proxies("TRUSTED_PROXIES")

# --- Portal -----------------------------------------------------------------------------
INVITATION_TTL_DAYS = env_int("INVITATION_TTL_DAYS", 7)
# Keyed hashes of secrets (invitation tokens, API keys, bank numbers) use this pepper.
HASH_PEPPER = env_str("HASH_PEPPER", SECRET_KEY)
# The debtor's side (secure links): identity tries per IP address an hour, across all links;
# a verified visit ends after this many idle minutes; debtor pages one IP address may open a minute.
DEBTOR_VERIFY_PER_IP = env_int("DEBTOR_VERIFY_PER_IP", 20)
DEBTOR_VISIT_IDLE_MINUTES = env_int("DEBTOR_VISIT_IDLE_MINUTES", 30)
DEBTOR_PAGES_PER_MINUTE = env_int("DEBTOR_PAGES_PER_MINUTE", 120)

# --- Online card payments (Stripe; each agency connects its own account) ------------------
# The agencies' Stripe secret keys and webhook signing secrets are stored encrypted (Fernet) with
# PAYMENTS_ENCRYPTION_KEY: required in production; in development and tests, when it is unset, a
# key is derived from SECRET_KEY (so changing SECRET_KEY there makes stored Stripe keys unreadable).
PAYMENTS_ENCRYPTION_KEYS = env_fernet_keys("PAYMENTS_ENCRYPTION_KEY", required=PRODUCTION, fallback_secret=SECRET_KEY)
# Where the server calls Stripe, and the stripe.js the payment page loads (its origin is the only
# outside origin the page's Content-Security-Policy allows). `manage.py up` and the tests point
# both at localstripe on loopback.
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "https://api.stripe.com").rstrip("/")
STRIPE_JS_URL = env_str("STRIPE_JS_URL", "https://js.stripe.com/v3/")
# Seconds the server waits for Stripe's API on a debtor's request.
STRIPE_TIMEOUT_SECONDS = env_int("STRIPE_TIMEOUT_SECONDS", 20)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # WeasyPrint and fontTools log every rendering step at INFO.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "weasyprint": {"level": "WARNING"},
                "fontTools": {"level": "WARNING"}, "stripe": {"level": "WARNING"}},
}

# --- Placement intake limits ------------------------------------------------------------
INTAKE_MAX_BYTES = env_int("INTAKE_MAX_BYTES", 50 * 1000 * 1000)
INTAKE_MAX_ROWS = env_int("INTAKE_MAX_ROWS", 1_000_000)
INTAKE_MAX_UNZIPPED_BYTES = env_int("INTAKE_MAX_UNZIPPED_BYTES", 600 * 1000 * 1000)
INTAKE_MAX_ZIP_RATIO = env_int("INTAKE_MAX_ZIP_RATIO", 100)
INTAKE_MAX_ZIP_ENTRIES = env_int("INTAKE_MAX_ZIP_ENTRIES", 2000)  # parts of a workbook (zip entries)
# What the worker reads from a workbook, checked before anything is parsed (README "Limits on files").
INTAKE_MAX_SHEETS = env_int("INTAKE_MAX_SHEETS", 100)
INTAKE_MAX_COLUMNS = env_int("INTAKE_MAX_COLUMNS", 250)
# Each part read whole (workbook, styles, relationships...): not the sheets, which are streamed.
INTAKE_MAX_PART_BYTES = env_int("INTAKE_MAX_PART_BYTES", 20 * 1000 * 1000)
# The shared strings (every distinct text of a workbook) are held in memory by the reader.
INTAKE_MAX_SHARED_STRINGS_BYTES = env_int("INTAKE_MAX_SHARED_STRINGS_BYTES", 100 * 1000 * 1000)
INTAKE_MAX_SHARED_STRINGS = env_int("INTAKE_MAX_SHARED_STRINGS", 1_000_000)
# Reading a file (sheets, header, first rows) and checking every row run in a child process of
# the worker with these limits on wall time and memory (address space).
INTAKE_READ_MAX_SECONDS = env_int("INTAKE_READ_MAX_SECONDS", 120)
INTAKE_CHECK_MAX_SECONDS = env_int("INTAKE_CHECK_MAX_SECONDS", 900)
INTAKE_PARSE_MAX_MEMORY_MB = env_int("INTAKE_PARSE_MAX_MEMORY_MB", 1024)
# A reading, checking or placing job with no heartbeat for this long is retried (or, after
# INTAKE_JOB_MAX_ATTEMPTS runs that started and died, failed with a message).
INTAKE_JOB_STALE_SECONDS = env_int("INTAKE_JOB_STALE_SECONDS", 90)
INTAKE_JOB_MAX_ATTEMPTS = env_int("INTAKE_JOB_MAX_ATTEMPTS", 3)
INTAKE_CHUNK_ROWS = env_int("INTAKE_CHUNK_ROWS", 20_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1000 * 1000  # bigger uploads stream to a temporary file
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# On PostgreSQL, write each chunk on a second connection while the next is parsed.
INTAKE_PIPELINED = env_bool("INTAKE_PIPELINED", True)
# A placement that wrote at least this many accounts, and at least this share of what the planner
# thinks the account table holds, refreshes the planner's statistics (ANALYZE) as its last step.
INTAKE_ANALYZE_MIN_ROWS = env_int("INTAKE_ANALYZE_MIN_ROWS", 5_000)
INTAKE_ANALYZE_SHARE = env_int("INTAKE_ANALYZE_PERCENT", 10) / 100

# --- Worklist ------------------------------------------------------------------------------
# A claimed account stays the collector's this long after their last action on it.
WORKLIST_LEASE_MINUTES = env_int("WORKLIST_LEASE_MINUTES", 20)
# An account passed over with "Next account" waits this long before it is offered again.
WORKLIST_SKIP_MINUTES = env_int("WORKLIST_SKIP_MINUTES", 30)
# After a call that reached nobody, the account waits this long before the next attempt.
WORKLIST_RETRY_HOURS = env_int("WORKLIST_RETRY_HOURS", 4)

# --- Background work: two Celery queues ------------------------------------------------------
# "interactive": work a person is waiting for (placement checks and commits, emails, the minute
# jobs); "bulk": long jobs over many accounts (re-scoring; exports and statements later), which
# re-queue themselves in chunks. Each queue has its own worker (docker-compose.yml, `manage.py
# up`), so a bulk job never delays an interactive one. A task not named here is interactive.
INTERACTIVE_QUEUE, BULK_QUEUE = "interactive", "bulk"
CELERY_TASK_DEFAULT_QUEUE = INTERACTIVE_QUEUE
CELERY_TASK_ROUTES = {
    **{name: {"queue": INTERACTIVE_QUEUE} for name in (
        "collections_work.tasks.placement_inspect", "collections_work.tasks.placement_preview",
        "collections_work.tasks.placement_commit", "collections_work.tasks.placements_recover_stalled",
        "collections_work.letters.validation_notice", "portal.tasks.deliver_email", "portal.tasks.deliver_pending_emails",
        "collections_work.tasks.worklist_wake_due", "collections_work.tasks.promises_mark_broken",
        "portal.tasks.record_heartbeat", "portal.tasks.echo")},
    **{name: {"queue": BULK_QUEUE} for name in (
        "collections_work.tasks.worklist_rescore_all", "collections_work.tasks.worklist_rescore_batch",
        "collections_work.letters.print_batches", "payments.tasks.plans_daily", "payments.tasks.promise_reminders",
        "portal.tasks.deliver_emails", "accounts.tasks.signin_failures_prune",
        "payments.tasks.autopay_due", "payments.tasks.statements_monthly", "payments.tasks.statement_issue_one",
        "payments.tasks.debtor_statements_monthly")},
}

# --- Email delivery -----------------------------------------------------------------------
# A try that fails for a reason that may pass (connection, 4xx) is tried again after
# EMAIL_RETRY_SECONDS, doubling each time, up to EMAIL_MAX_ATTEMPTS tries; a permanent refusal
# (5xx for the recipient or the message) ends the email at once. Either way it ends "failed"
# with the server's answer in the send log.
EMAIL_MAX_ATTEMPTS = env_int("EMAIL_MAX_ATTEMPTS", 5)
EMAIL_RETRY_SECONDS = env_int("EMAIL_RETRY_SECONDS", 60)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)  # seconds an SMTP server may take to answer
# A recorded email not handed to a worker (or whose worker died with it) within this many seconds
# is offered again by beat (deliver_pending_emails); sending it twice is impossible either way.
EMAIL_HANDOFF_LOST_SECONDS = env_int("EMAIL_HANDOFF_LOST_SECONDS", 120)
