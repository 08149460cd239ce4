"""Make the fw registries know the amcl components (as ``fw train`` does before building)."""

import pytest


@pytest.fixture(autouse=True, scope='session')
def _activate_amcl():
    from framework import activate

    activate('amcl')
