"""toro-django: a Django Tasks backend on toro.

::

    # settings.py
    INSTALLED_APPS = [..., "toro_django"]
    TASKS = {"default": {"BACKEND": "toro_django.TaskBackend"}}

    # shop/tasks.py
    from django.tasks import task        # Django 6; before it: from django_tasks import task

    @task(priority=10)
    def send_receipt(order_id):
        ...

    # a view
    with transaction.atomic():
        order = Order.objects.create(...)
        send_receipt.enqueue(order.id)   # exists only if the transaction commits

    # run the tasks
    python manage.py toro_worker -c 10

See the README for results, the worker command and mounting the monitor.
"""

from toro_django.backend import TaskBackend

__version__ = "0.1.0"

__all__ = ["TaskBackend", "__version__"]
