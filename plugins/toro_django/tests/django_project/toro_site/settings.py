"""Settings of the Django project the toro-django tests use.

The database comes from ``TORO_DJANGO_DATABASE`` (a libpq conninfo: the test's own database);
the tests running in-process point Django at each test's database themselves.
"""

import os

from psycopg.conninfo import conninfo_to_dict

_db = conninfo_to_dict(
    os.environ.get("TORO_DJANGO_DATABASE", "host=127.0.0.1 dbname=toro_django_not_configured")
)

SECRET_KEY = "toro-django-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "toro_site.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "toro_django",
    "shop",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _db.get("dbname", "postgres"),
        "USER": _db.get("user", "postgres"),
        "PASSWORD": _db.get("password", ""),
        "HOST": _db.get("host", "127.0.0.1"),
        "PORT": _db.get("port", "5432"),
    }
}
TASKS = {
    "default": {
        "BACKEND": "toro_django.TaskBackend",
        "QUEUES": ["default", "other"],
        "OPTIONS": {"MODULES": ["shop.jobs"]},
    }
}
