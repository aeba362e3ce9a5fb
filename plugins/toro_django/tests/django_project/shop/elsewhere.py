"""A task in a module that is not a task module: enqueueing it is refused."""

from toro_django.compat import task


@task
def stray():
    return "never"
