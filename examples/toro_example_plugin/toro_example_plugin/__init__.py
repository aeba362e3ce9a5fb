"""An example third-party toro plugin, shipped as its own distribution."""
