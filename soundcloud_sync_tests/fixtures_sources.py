"""pytest fixtures for the sources room (registered in conftest.py)."""
