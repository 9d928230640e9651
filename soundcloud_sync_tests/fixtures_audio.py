"""pytest fixtures for the audio room (registered in conftest.py)."""
