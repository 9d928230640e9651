"""pytest fixtures for the audio package (registered in conftest.py).

* ``numba_warm`` (session): compiles librosa's numba kernels once, before any analysis.
* ``synth_file`` (session): a factory ``synth_file(bpm, key, codec="mp3", seconds=25)``
  returning the path of a synthesized, encoded clip with that tempo and key, made once
  per session and shared between tests.
* ``eagle_emulator``: a running Eagle API emulator (see ``emulators/eagle.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from soundcloud_sync_tests.synth import encode_audio, render_track


@pytest.fixture(scope="session")
def numba_warm() -> None:
    from soundcloud_sync.audio.analysis import warm_up

    warm_up()


@pytest.fixture(scope="session")
def synth_file(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    folder = tmp_path_factory.mktemp("synth")
    made: dict[tuple, Path] = {}

    def make(
        bpm: float, key: str, codec: str = "mp3", seconds: float = 25.0, seed: int = 0
    ) -> Path:
        spec = (bpm, key, codec, seconds, seed)
        if spec not in made:
            ext = {"alac": "m4a", "aac": "m4a"}.get(codec, codec)
            name = f"{bpm}-{key.replace(' ', '_').replace('#', 's')}-{seconds}-{seed}-{codec}.{ext}"
            samples = render_track(bpm, key, seconds, seed=seed)
            made[spec] = encode_audio(samples, 44100, folder / name, codec)
        return made[spec]

    return make


@pytest.fixture
def eagle_emulator() -> Iterator:
    from soundcloud_sync_tests.emulators.eagle import EagleEmulator

    with EagleEmulator() as emulator:
        yield emulator
