"""Make fw's registries know the semicd_vl components (as ``fw train`` does before building)."""

import pytest


@pytest.fixture(autouse=True, scope='session')
def _activate_semicd_vl():
    from framework import activate

    activate('semicd_vl')


@pytest.fixture(scope='session')
def toy_root(tmp_path_factory):
    """A small generated toy set (40 train / 4 val / 8 test pairs of 32x32), shared by the
    tests."""
    from fw_semicd_vl.toy import prepare_toy

    root = tmp_path_factory.mktemp('toy') / 'toy'
    prepare_toy(root, n_train=40, n_val=4, n_test=8, size=32)  # 5 % of 40 = 2 labeled
    return root
