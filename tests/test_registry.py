"""Registry rules: qualified and bare names, no-op re-registration, clash and miss errors."""

import pytest
import torch.nn as nn
from mmengine.registry import MODELS as MM_MODELS
from mmengine.registry import DefaultScope

from framework import registry as R
from framework.errors import RegistryError


class Alpha(nn.Module):
    pass


class AlphaOther(nn.Module):
    pass


@pytest.fixture
def fresh():
    """A private model-like registry tree so tests never touch the global tables."""
    root = R.FwRegistry('testroot', scope='fwtest-root', kind='model')
    return root


def test_qualified_and_bare_names(fresh):
    fresh.add(R.Entry('pa', 'Alpha', 'model', obj=Alpha))
    assert fresh.get('pa.Alpha') is Alpha
    assert fresh.get('Alpha') is Alpha


def test_same_object_twice_is_noop(fresh):
    fresh.add(R.Entry('pa', 'Alpha', 'model', obj=Alpha))
    fresh.add(R.Entry('pa', 'Alpha', 'model', obj=Alpha))
    fresh.add_lazy('pa', 'Alpha', f'{__name__}:Alpha')  # same object through its import path
    assert len(fresh.entries()) == 1


def test_clash_names_both_origins(fresh):
    fresh.add(R.Entry('pa', 'Alpha', 'model', obj=Alpha))
    with pytest.raises(RegistryError) as err:
        fresh.add(R.Entry('pa', 'Alpha', 'model', obj=AlphaOther))
    msg = str(err.value)
    assert f'{__name__}:Alpha' in msg and f'{__name__}:AlphaOther' in msg


def test_bare_name_ambiguous_across_plugins(fresh):
    fresh.add(R.Entry('pa', 'Alpha', 'model', obj=Alpha))
    fresh.add(R.Entry('pb', 'Alpha', 'model', obj=AlphaOther))
    assert fresh.get('pb.Alpha') is AlphaOther
    with pytest.raises(RegistryError, match=r'ambiguous.*pa\.Alpha, pb\.Alpha'):
        fresh.get('Alpha')


def test_miss_suggests_close_name_and_lists_plugins(fresh):
    fresh.add(R.Entry('pa', 'ResNet18Cifar', 'model', obj=Alpha))
    with pytest.raises(RegistryError) as err:
        fresh.build(dict(type='pa.ResNet18Cifr'))
    msg = str(err.value)
    assert "'pa.ResNet18Cifar'" in msg and 'searched plugins: pa' in msg
    assert 'fwtest-root' in msg  # the scopes searched


def test_lazy_entry_imports_on_build(fresh):
    fresh.add_lazy('pa', 'Linear', 'torch.nn:Linear')
    assert fresh._fw_entries['pa.Linear'].obj is None
    layer = fresh.build(dict(type='pa.Linear', in_features=3, out_features=2))
    assert isinstance(layer, nn.Linear)


def test_bad_import_path_names_the_manifest(fresh):
    fresh.add_lazy('pa', 'Nope', 'torch.nn:DoesNotExist')
    with pytest.raises(RegistryError, match='fw_pa/manifest.json'):
        fresh.get('pa.Nope')


def test_backbones_buildable_from_models_and_through_mmengine_root():
    entry = R.BACKBONES.add_lazy('coretest', 'TinyBackbone', 'torch.nn:Identity')
    try:
        assert R.MODELS.get('coretest.TinyBackbone') is nn.Identity
        assert R.MODELS.get('TinyBackbone') is nn.Identity
        # mmengine's Runner builds from the root registry with default_scope='fw'
        with DefaultScope.overwrite_default_scope('fw'):
            assert isinstance(MM_MODELS.build(dict(type='coretest.TinyBackbone')), nn.Identity)
        # ... and fw's own lookups do not depend on whatever the global default scope is
        with DefaultScope.overwrite_default_scope('mmengine'):
            assert isinstance(R.MODELS.build(dict(type='coretest.TinyBackbone')), nn.Identity)
        # mmengine's own registrations stay visible through the parent
        assert R.OPTIMIZERS.get('SGD') is __import__('torch').optim.SGD
    finally:
        R.MODELS._fw_entries.pop(entry.qualname)


def test_decorator_registration_follows_the_rules(fresh):
    @fresh.register_module(name='pc.Gamma')
    class Gamma(nn.Module):
        pass

    fresh.register_module(name='pc.Gamma', module=Gamma)  # same object again: no-op
    with pytest.raises(RegistryError, match='registered twice'):
        fresh.register_module(name='pc.Gamma', module=Alpha)
    assert fresh.get('Gamma') is Gamma


def test_unknown_kind_is_explained():
    with pytest.raises(RegistryError, match='close: backbone'):
        R.registry_for_kind('backbon')
    assert R.registry_for_kind('heads') is R.HEADS


def test_public_api_is_lazy_and_complete():
    """`import framework` imports neither torch nor mmengine; every public name resolves; the
    run-time mm helpers import no training code (no cycle with framework.train)."""
    import subprocess
    import sys

    code = (
        'import sys, framework\n'
        "heavy = [m for m in ('torch', 'mmengine') if m in sys.modules]\n"
        'import framework.openmmlab\n'
        "cycle = 'framework.train' in sys.modules\n"
        'missing = [n for n in framework.PUBLIC_API if getattr(framework, n, None) is None]\n'
        'print(heavy, cycle, missing)\n'
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert out.stdout.split('\n')[0] == '[] False []', out.stdout + out.stderr


def test_config_path_by_name_with_close_names(tmp_path):
    from framework.errors import FwError
    from framework.plugins import Plugin, config_path

    (tmp_path / 'configs' / '_base_').mkdir(parents=True)
    for rel in ('configs/demo_cpu.py', 'configs/_base_/runtime.py'):
        (tmp_path / rel).write_text('x = 1\n')
    plugin = Plugin('pa', 'fw-pa', '0.1.0', 'fw_pa.plugin', package_dir=tmp_path)
    assert config_path(plugin, 'demo_cpu') == tmp_path / 'configs' / 'demo_cpu.py'
    with pytest.raises(FwError, match="close: 'demo_cpu'.*`fw configs pa`"):
        config_path(plugin, 'demo_cp')
    with pytest.raises(FwError, match='does not exist'):
        config_path(plugin, str(tmp_path / 'nowhere.py'))
