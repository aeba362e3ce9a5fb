from django.urls import include, path
from toro_django.monitor import monitor_urls

urlpatterns = [path("ops/toro/", include(monitor_urls()))]
