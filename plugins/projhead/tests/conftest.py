"""Make the fw registries know the projhead components (as ``fw train`` does before building)."""

import pytest


@pytest.fixture(autouse=True, scope='session')
def _activate_projhead():
    from framework import activate

    activate('projhead')
