"""Tasks outside shop.tasks, listed in the backend's OPTIONS['MODULES']."""

from toro_django.compat import task


@task
def shout(word):
    return word.upper()
