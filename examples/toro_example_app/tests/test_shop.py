"""The shop's tests: toro's helpers for applications, with the installed plugins (toro-retry)."""

from __future__ import annotations

import pytest
from shop.jobs import SENT, ChargeCard, SendReceipt, place_order

from toro_core import Toro
from toro_core.testing import assert_enqueued, drain, enqueued, refute_enqueued


def test_placing_an_order_enqueues_a_charge(toro_app: Toro) -> None:
    place_order(7)
    job = assert_enqueued(ChargeCard, 7, queue="payments")
    assert job.status == "queued"
    refute_enqueued(SendReceipt)
    with pytest.raises(AssertionError, match=r"waiting: \[7\] \{\} in payments"):
        assert_enqueued(ChargeCard, 8)


def test_drain_runs_the_charge_and_the_receipt_it_enqueues(toro_app: Toro) -> None:
    place_order(7)
    ran = drain()
    assert [(r.job.class_name, r.status) for r in ran] == [
        ("shop.jobs.ChargeCard", "complete"),
        ("shop.jobs.SendReceipt", "complete"),
    ]
    assert ran[0].result == {"attempts": 1}
    assert SENT == ["receipt for #7 to customer7@example.com"]
    assert not enqueued(ChargeCard) and not enqueued(SendReceipt)


def test_retries_are_honoured_by_drain(toro_app: Toro) -> None:
    ChargeCard.perform_async(9, 2)  # the gateway fails twice
    first = drain()
    assert [r.status for r in first] == ["scheduled"]  # toro-retry's next attempt, later
    retried = assert_enqueued(ChargeCard, 9, 2)
    assert retried.status == "scheduled" and len(retried.properties["retry:errors"]) == 1
    rest = drain(with_scheduled=True)  # run the retries now instead of waiting for them
    assert [r.status for r in rest] == ["scheduled", "complete", "complete"]
    assert SENT == ["receipt for #9 to customer9@example.com"]


def test_inline_mode_runs_jobs_as_they_are_enqueued(toro_inline: Toro) -> None:
    job = SendReceipt.perform_async(3, email="ann@example.com")
    assert job.status == "complete"
    assert SENT == ["receipt for #3 to ann@example.com"]
    charge = ChargeCard.perform_async(4)
    assert charge.status == "complete"  # and the receipt it enqueued ran inline too
    assert SENT[-1] == "receipt for #4 to customer4@example.com"


@pytest.mark.toro_plugins()
def test_a_test_can_leave_the_plugins_out(toro_app: Toro) -> None:
    from toro_core import UnknownOptionError

    with pytest.raises(UnknownOptionError, match="retry_interval"):
        place_order(1)
