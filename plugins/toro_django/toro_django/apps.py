"""The Django app of toro-django: its ``toro_worker`` management command."""

from django.apps import AppConfig


class ToroDjangoConfig(AppConfig):  # type: ignore[misc]
    name = "toro_django"
    verbose_name = "toro"
