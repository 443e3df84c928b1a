from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_idp.server import RunningIdP
from web.support import FRAMEWORKS, World


@pytest.fixture(params=FRAMEWORKS)
def world(request: pytest.FixtureRequest, mock_idp: RunningIdP, tmp_path: Path) -> Iterator[World]:
    """The broker and the auth pages served by each framework in turn."""
    served = World(request.param, mock_idp, tmp_path)
    try:
        yield served
    finally:
        served.close()
