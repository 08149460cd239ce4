"""Make the damo_yolo components buildable (fw's registries and the mmdet child registries), as
``fw train`` does before building."""

import pytest


@pytest.fixture(autouse=True, scope='session')
def _activate_damo_yolo():
    pytest.importorskip('mmdet')
    from framework import activate

    activate('damo_yolo')
