from __future__ import annotations

import pytest

from tests.apps import Api
from tests.unit.phone.connect.support import World, make_world


@pytest.fixture
def world(api: Api) -> World:
    """A merchant with one active Connect key and one signing secret, on both databases."""
    return make_world(api)
