"""``python -m toro_core`` is ``toro-core``."""

from toro_core.cli import main

main()
