"""A small shop: orders, card charges and receipts (the workers are in shop.jobs)."""
