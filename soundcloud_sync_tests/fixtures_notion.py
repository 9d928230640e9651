"""pytest fixtures for the notion room (registered in conftest.py)."""
