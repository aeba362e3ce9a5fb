"""The shop's background jobs."""

from __future__ import annotations

from toro_core import Worker

#: What the jobs did, as the shop's database would record it (kept in memory for the example).
SENT: list[str] = []
CHARGES: dict[int, int] = {}


class SendReceipt(Worker):
    queue = "mail"

    def perform(self, order_id: int, *, email: str) -> str:
        SENT.append(f"receipt for #{order_id} to {email}")
        return "sent"


class ChargeCard(Worker):
    """The payment gateway fails now and then: retried, then a receipt is sent."""

    queue = "payments"
    retry_interval = 1
    max_attempts = 3

    def perform(self, order_id: int, fail_times: int = 0) -> dict[str, int]:
        CHARGES[order_id] = CHARGES.get(order_id, 0) + 1
        if CHARGES[order_id] <= fail_times:
            raise ConnectionError("payment gateway timed out")
        SendReceipt.perform_async(order_id, email=f"customer{order_id}@example.com")
        return {"attempts": CHARGES[order_id]}


def place_order(order_id: int) -> None:
    """What a web view does: charge the card in the background."""
    ChargeCard.perform_async(order_id)
