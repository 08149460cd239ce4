"""Make fw's registries know the semicd_vl components (as ``fw train`` does before building)."""

import pytest


@pytest.fixture(autouse=True, scope='session')
def _activate_semicd_vl():
    from framework import activate

    activate('semicd_vl')
