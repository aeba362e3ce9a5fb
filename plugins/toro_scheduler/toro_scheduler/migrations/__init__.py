"""toro-scheduler's schema migrations (owner ``scheduler``), applied by ``toro-core migrate``."""
