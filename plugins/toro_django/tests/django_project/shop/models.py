from django.db import models


class Order(models.Model):
    item = models.CharField(max_length=100)


class Run(models.Model):
    """A task run, in the order tasks ran (the priority test)."""

    label = models.CharField(max_length=100)
    at = models.DateTimeField(auto_now_add=True)
