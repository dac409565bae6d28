"""Django settings. Everything that differs between machines comes from the environment."""

import base64
import hashlib
import os
import secrets
import sys
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
VAR_DIR = Path(os.environ.get("ACQUITTE_VAR_DIR", PROJECT_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _env_bool("DEBUG", False)

# Secrets fail closed. SECRET_KEY signs sessions, password-reset links and checkout sessions;
# ACQUITTE_ENCRYPTION_KEY (one Fernet key, or several separated by commas: the first encrypts, all
# decrypt, for rotation) encrypts provider credentials and webhook secrets. Outside DEBUG the app
# refuses to start without both. With DEBUG=1 (`make run`) a development key, known to everyone,
# stands in and says so on stderr. Build steps that serve nothing and read no secret (making
# migrations or messages, collecting static files, type checking) get throwaway random keys.
DEVELOPMENT_SECRET_KEY = "insecure-development-key-change-me-in-production-0123456789"
#: What secrets.py derived from the development key before: a development database keeps decrypting.
DEVELOPMENT_ENCRYPTION_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"credentials:" + DEVELOPMENT_SECRET_KEY.encode()).digest()
).decode()
_BUILD_COMMANDS = {"makemigrations", "makemessages", "compilemessages", "collectstatic"}
_program = Path(sys.argv[0]).name
_is_build_step = _program in {"mypy", "dmypy"} or (  # django-stubs imports the settings
    len(sys.argv) > 1 and _program in {"manage.py", "django-admin"} and sys.argv[1] in _BUILD_COMMANDS
)
SECRET_KEY = os.environ.get("SECRET_KEY", "").strip()
ACQUITTE_ENCRYPTION_KEY = os.environ.get("ACQUITTE_ENCRYPTION_KEY", "").strip()
_missing = [name for name in ("SECRET_KEY", "ACQUITTE_ENCRYPTION_KEY") if not globals()[name]]
if _missing and _is_build_step:
    SECRET_KEY = SECRET_KEY or secrets.token_urlsafe(50)
    ACQUITTE_ENCRYPTION_KEY = ACQUITTE_ENCRYPTION_KEY or Fernet.generate_key().decode()
elif _missing and DEBUG:
    print(
        f"WARNING: DEBUG=1 and {' and '.join(_missing)} not set: using the PUBLIC development key. "
        "Anyone can forge sessions and links signed with it. Never serve real data like this.",
        file=sys.stderr,
    )
    SECRET_KEY = SECRET_KEY or DEVELOPMENT_SECRET_KEY
    ACQUITTE_ENCRYPTION_KEY = ACQUITTE_ENCRYPTION_KEY or DEVELOPMENT_ENCRYPTION_KEY
elif _missing:
    raise ImproperlyConfigured(
        f"{' and '.join(_missing)} must be set (see README, Production). Generate them with "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'` and "
        "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`; "
        "for development only, set DEBUG=1 instead."
    )
elif not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is the public development key: set a secret one.")
try:
    _encryption_keys = [Fernet(k.strip()) for k in ACQUITTE_ENCRYPTION_KEY.split(",") if k.strip()]
except ValueError as exc:
    raise ImproperlyConfigured(
        "ACQUITTE_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64-encoded bytes), separated by commas."
    ) from exc
if not DEBUG and DEVELOPMENT_ENCRYPTION_KEY in [k.strip() for k in ACQUITTE_ENCRYPTION_KEY.split(",")]:
    raise ImproperlyConfigured("ACQUITTE_ENCRYPTION_KEY is the public development key: set a secret one.")

ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    "django_htmx",
    "ninja",
    "acquitte.core",
    "acquitte.customers",
    "acquitte.catalog",
    "acquitte.invoicing",
    "acquitte.payments",
    "acquitte.notifications",
    "acquitte.portal",
    "acquitte.documents",
    "acquitte.quotes",
    "acquitte.subscriptions",
    "acquitte.backoffice",
    "acquitte.api",
    "acquitte.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: static files keep their long cache; every page and document is no-store.
    "acquitte.core.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "acquitte.subscriptions.middleware.OrganisationTimeZoneMiddleware",
    # A NUL byte in the path, the query string or a form field: 400 with a clear page (issue 11).
    "acquitte.core.params.RefuseNulMiddleware",
    "acquitte.api.middleware.IdempotencyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "acquitte.core.ratelimits.RateLimitMiddleware",
    "axes.middleware.AxesMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "acquitte.urls"
WSGI_APPLICATION = "acquitte.wsgi.application"

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
                "acquitte.backoffice.context.backoffice",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'acquitte.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions make SQLite take its write lock up front, which is the closest it
    # gets to SELECT ... FOR UPDATE: concurrent finalisations queue instead of failing.
    # WAL lets readers go on while one writer commits; synchronous=NORMAL is durable in WAL mode
    # across application crashes (only an OS crash may lose the last commits).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "customers.User"
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in lockouts (django-axes; core/signin.py): per account AND per address, each its own threshold.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))  # failures on one account
# failures from one address, on any accounts
ACQUITTE_LOCKOUT_ADDRESS_LIMIT = int(os.environ.get("ACQUITTE_LOCKOUT_ADDRESS_LIMIT", "20"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_HANDLER = "acquitte.core.signin.AccountAndAddressHandler"
AXES_USERNAME_FORM_FIELD = "username"  # the sign-in forms' field (and authenticate()'s keyword)
AXES_USERNAME_CALLABLE = "acquitte.core.signin.username"
AXES_LOCKOUT_CALLABLE = "acquitte.core.signin.lockout_response"
# The client address (lockouts, rate limits, audit): the number of reverse proxies in front of the app,
# each appending to X-Forwarded-For. 0 (the default): X-Forwarded-For is ignored, the peer address counts.
# core.http.client_ip reads it through django-ipware (what axes' AXES_IPWARE_PROXY_COUNT would configure).
ACQUITTE_TRUSTED_PROXIES = int(os.environ.get("ACQUITTE_TRUSTED_PROXIES", "0"))
AXES_CLIENT_IP_CALLABLE = "acquitte.core.http.client_ip"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
FORMAT_MODULE_PATH = ["acquitte.formats"]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "America/Toronto")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = VAR_DIR / "media"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = _env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_SAMESITE = "Lax"

# HTTPS (README, Production). SecurityMiddleware sends HSTS on HTTPS responses only, so the year
# of HSTS outside DEBUG costs nothing on plain HTTP. SECURE_SSL_REDIRECT stays off unless asked: on
# behind a proxy that does not say the scheme, it would loop. SECURE_PROXY_SSL_HEADER names the header
# the proxy sets (e.g. X-Forwarded-Proto); set it only if the proxy overwrites what the client sends.
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", False)
if _proxy_ssl_header := os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip():
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")
SECURE_REFERRER_POLICY = "same-origin"  # token links (/i/, /q/, checkout) never leave in a Referer
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): no inline script, style or event handler anywhere; behaviour
# is in static/acquitte.js, htmx is a static file. form-action lists the providers' hosted payment
# pages, which a POST redirects to (browsers check form-action on that redirect); more origins can be
# added as ACQUITTE_CSP_FORM_ACTION (space-separated).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "manifest-src": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [
            SELF,
            "https://checkout.stripe.com",
            "https://www.paypal.com",
            "https://www.sandbox.paypal.com",
            "https://pay.gocardless.com",
            "https://pay-sandbox.gocardless.com",
            # The providers' OAuth consent pages, which "Connecter avec …" redirects to after its POST.
            "https://connect.stripe.com",
            "https://connect.gocardless.com",
            "https://connect-sandbox.gocardless.com",
            *os.environ.get("ACQUITTE_CSP_FORM_ACTION", "").split(),
        ],
    }
}
# No page uses any of these browser features: refused to the page and to anything it embeds.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "bluetooth",
        "browsing-topics",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", False)
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
# Webhook endpoints may point at private or loopback addresses (SSRF otherwise): in development,
# and for a demo whose receiver is the app itself.
WEBHOOKS_ALLOW_PRIVATE = _env_bool("WEBHOOKS_ALLOW_PRIVATE", DEBUG)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Acquitte <no-reply@acquitte.local>")

# The built-in sandbox payment provider, connected for every new organisation (the embedded setup).
PAYMENTS_SANDBOX = _env_bool("PAYMENTS_SANDBOX", True)
# How long each sandbox charge takes to answer, in milliseconds, as a real provider would (benchmarks).
PAYMENTS_SANDBOX_LATENCY_MS = int(os.environ.get("PAYMENTS_SANDBOX_LATENCY_MS", "0"))

# The platform's own OAuth credentials for connecting a merchant's provider account in a few clicks
# ("Connecter avec …"); a provider whose credentials are absent offers only key pasting.
STRIPE_CONNECT_CLIENT_ID = os.environ.get("STRIPE_CONNECT_CLIENT_ID", "")
STRIPE_PLATFORM_SECRET_KEY = os.environ.get("STRIPE_PLATFORM_SECRET_KEY", "")
GOCARDLESS_CLIENT_ID = os.environ.get("GOCARDLESS_CLIENT_ID", "")
GOCARDLESS_CLIENT_SECRET = os.environ.get("GOCARDLESS_CLIENT_SECRET", "")
# The partner app's webhook secret: events of merchants connected through the app come to
# /webhooks/platform/gocardless/ signed with it.
GOCARDLESS_WEBHOOK_SECRET = os.environ.get("GOCARDLESS_WEBHOOK_SECRET", "")
# A GoCardless or PayPal partner app belongs to one environment, sandbox ("test") or live.
GOCARDLESS_PARTNER_MODE = os.environ.get("GOCARDLESS_PARTNER_MODE", "test")
PAYPAL_PARTNER_CLIENT_ID = os.environ.get("PAYPAL_PARTNER_CLIENT_ID", "")
PAYPAL_PARTNER_CLIENT_SECRET = os.environ.get("PAYPAL_PARTNER_CLIENT_SECRET", "")
PAYPAL_PARTNER_MERCHANT_ID = os.environ.get("PAYPAL_PARTNER_MERCHANT_ID", "")
PAYPAL_PARTNER_MODE = os.environ.get("PAYPAL_PARTNER_MODE", "test")
PAYPAL_PARTNER_WEBHOOK_ID = os.environ.get("PAYPAL_PARTNER_WEBHOOK_ID", "")

# SMS: the default keeps messages in the outbox only; set SMS_BACKEND to the Twilio backend in production.
SMS_BACKEND = os.environ.get("SMS_BACKEND", "acquitte.notifications.sms.OutboxOnlyBackend")
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "")
TWILIO_MESSAGING_SERVICE_SID = os.environ.get("TWILIO_MESSAGING_SERVICE_SID", "")
TWILIO_API_BASE = os.environ.get("TWILIO_API_BASE", "")

REDIS_URL = os.environ.get("REDIS_URL", "")
#: Requests per API key (django-ninja's throttle, counted in the cache below).
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "100/s")
# The cache holds the rate-limit counters: Redis when REDIS_URL is set, shared by every process and
# machine; otherwise a per-process memory cache, enough for the embedded single-process default.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("REDIS_CACHE_URL", REDIS_URL),
            "KEY_PREFIX": "acquitte",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "acquitte"}}
# Rate limits (core/ratelimits.py, counted by django-ratelimit in that cache): rule -> dimension -> rate
# ("count/period", period s, m, h or d, e.g. "3/h", "50/10m"). Each one can be overridden from the
# environment as ACQUITTE_RATE_<RULE>_<DIMENSION>, e.g. ACQUITTE_RATE_PASSWORD_RESET_ADDRESS=5/h.
RATELIMIT_IP_META_KEY = "acquitte.core.http.client_ip"
ACQUITTE_RATE_LIMITS = {
    "signin": {"address": "50/10m", "account": "10/10m"},
    "password_reset": {"address": "3/h", "account": "3/h"},
    "declaration": {"address": "10/h", "account": "10/h", "subject": "5/h"},
    "quote_decision": {"address": "20/h", "subject": "10/h"},
    "public_link": {"address": "60/m"},
}
for _rule, _limits in ACQUITTE_RATE_LIMITS.items():
    for _dimension in _limits:
        _override = f"ACQUITTE_RATE_{_rule}_{_dimension}".upper()
        _limits[_dimension] = os.environ.get(_override, _limits[_dimension])
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
# Without a broker (the embedded default) tasks run in-process, so one command runs everything.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
# E-mails and SMS have a queue of their own: a billing run queues one e-mail per invoice, and
# in one shared queue the next run, the webhook inbox and reconciliation would wait behind them
# all (a second run of 100 000 invoices waited 303 s behind the first one's e-mails, against
# 2 s in process). A worker started without -Q takes both queues in turn; a dedicated
# `-Q outbox` worker keeps delivery off the billing workers altogether.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue("celery"), Queue("outbox")]
CELERY_TASK_ROUTES = {
    "acquitte.notifications.tasks.deliver_message": {"queue": "outbox"},
    "acquitte.notifications.tasks.deliver_webhook": {"queue": "outbox"},
    "acquitte.notifications.tasks.deliver_due_webhooks": {"queue": "outbox"},
    "acquitte.subscriptions.tasks.deliver_run_messages": {"queue": "outbox"},
}
CELERY_BEAT_SCHEDULE = {
    # Attempts in doubt (a crash between the provider's answer and our commit) within a minute;
    # debits the provider is settling (reported by webhook anyway) every five minutes.
    "reconcile-payments": {
        "task": "acquitte.payments.tasks.reconcile_payments",
        "schedule": 20.0,  # + IN_DOUBT_AFTER (40 s): a crash is settled within a minute
        "kwargs": {"pending": False},
    },
    "reconcile-pending-payments": {"task": "acquitte.payments.tasks.reconcile_payments", "schedule": 300.0},
    "sweep-abandoned-setups": {
        "task": "acquitte.payments.tasks.sweep_abandoned_setups",
        "schedule": 3600.0,
    },
    "deliver-queued-messages": {
        "task": "acquitte.notifications.tasks.deliver_queued_messages",
        "schedule": 60.0,
    },
    "deliver-due-webhooks": {
        "task": "acquitte.notifications.tasks.deliver_due_webhooks",
        "schedule": 5.0,  # the first retry is due 5 s after a failure
    },
    "expire-quotes": {"task": "acquitte.quotes.tasks.expire_quotes", "schedule": 3600.0},
    # Each organisation's day starts in its own time zone: every half hour, each run bills or
    # collects whatever is due by that organisation's today, missed days included.
    "billing-runs": {"task": "acquitte.subscriptions.tasks.run_due_billing", "schedule": 1800.0},
    "collection-runs": {"task": "acquitte.subscriptions.tasks.run_due_collections", "schedule": 1800.0},
    "renewal-runs": {"task": "acquitte.subscriptions.tasks.run_due_renewals", "schedule": 1800.0},
    "dunning-runs": {"task": "acquitte.subscriptions.tasks.run_due_dunning", "schedule": 1800.0},
    "stalled-runs": {"task": "acquitte.subscriptions.tasks.close_stalled_runs", "schedule": 600.0},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
