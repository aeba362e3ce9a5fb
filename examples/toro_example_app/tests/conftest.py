import pytest
from shop import jobs

pytest_plugins = ["toro_core.testing"]


@pytest.fixture(autouse=True)
def clean_shop() -> None:
    jobs.SENT.clear()
    jobs.CHARGES.clear()
