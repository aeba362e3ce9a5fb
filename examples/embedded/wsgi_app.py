"""A sync (WSGI) app or script runs its worker in a thread: ``app.background_worker(...)``."""

from __future__ import annotations

from toro_core import Worker, default_app


class Resize(Worker):
    def perform(self, image_id: int) -> None:
        print(f"resizing {image_id}")


def main() -> None:
    with default_app().background_worker(concurrency=4):
        Resize.perform_async(1)
        input("worker running; press Enter to stop it gracefully\n")


if __name__ == "__main__":
    main()
