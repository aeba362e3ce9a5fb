"""The shop's tasks (an installed app's tasks module: toro workers run these)."""

import time

from toro_django.compat import task

from shop.models import Order, Run


@task
def add(a, b):
    return a + b


@task
def place_order(item):
    return Order.objects.create(item=item).id


@task
def record(label):
    Run.objects.create(label=label)
    return label


@task
def fail(message):
    raise ValueError(message)


@task(takes_context=True)
def whoami(context, x):
    return {"attempt": context.attempt, "id": context.task_result.id, "x": x}


@task
async def async_add(a, b):
    return a + b


@task
def returns_a_set():
    return {1, 2}


@task(queue_name="other", priority=-5)
def slow(seconds):
    time.sleep(seconds)
    return seconds
