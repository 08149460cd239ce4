"""The plugin contract (README 'Adding a plugin') for every installed plugin and for the output of
`fw new-plugin`, one test per plugin and rule; then, for each rule, a throw-away plugin that
breaks it and is caught by that rule alone."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from framework import contract
from framework.scaffold import write_plugin

INSTALLED = contract.installed()  # entry points and manifests only: cheap at collection
SCAFFOLD = 'scaffold'  # the output of `fw new-plugin`, checked like an installed plugin


@pytest.fixture(scope='session')
def scaffold_source(tmp_path_factory) -> contract.Source:
    return contract.source_at(write_plugin('contractdemo', tmp_path_factory.mktemp('scaffold')))


@pytest.mark.parametrize('rule', contract.RULES)
@pytest.mark.parametrize('plugin', [*INSTALLED, SCAFFOLD])
def test_plugin_keeps_the_contract(plugin, rule, request):
    src = request.getfixturevalue('scaffold_source') if plugin == SCAFFOLD else INSTALLED[plugin]
    findings = contract.check(src, [rule])
    assert not findings, '\n'.join(map(str, findings))


# ----------------------------------------------------------------------------- broken plugins
def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f'{old!r} not in {path}'
    path.write_text(text.replace(old, new, 1))


def _subpackage(root: Path, pkg: Path) -> None:
    (pkg / 'models').mkdir()
    (pkg / 'models' / '__init__.py').write_text('')
    shutil.rmtree(root / 'tests')


def _bad_import(root: Path, pkg: Path) -> None:
    _edit(
        pkg / 'manifest.json',
        '"components": [',
        '"components": [{"kind": "head", "name": "Gone", "import": "%s.head:Gone"},' % pkg.name,
    )


def _undocumented(root: Path, pkg: Path) -> None:
    _edit(pkg / 'backbone.py', '        hidden: width of the hidden layer.\n', '')
    text = (pkg / 'loss.py').read_text()
    (pkg / 'loss.py').write_text(re.sub(r'    """Cross-entropy.*?"""\n\n', '', text, flags=re.S))


def _bad_configs(root: Path, pkg: Path) -> None:
    (pkg / 'configs' / 'typo.py').write_text(
        f"model = dict(type='{pkg.name[3:]}.MLPBackbon', in_dim=16)\n"
    )
    (pkg / 'configs' / 'syntax.py').write_text('model = dict(\n')


def _second_version(root: Path, pkg: Path) -> None:
    _edit(pkg / 'plugin.py', "'version': __version__", "'version': '0.1.0'")
    _edit(root / 'setup.cfg', f'attr: {pkg.name}.__version__', '0.1.0')


def _readme_without_citation(root: Path, pkg: Path) -> None:
    _edit(root / 'README.md', '## Citation', '## How to cite')
    _edit(root / 'README.md', '## Components', '## Parts')


def _outside_reference(root: Path, pkg: Path) -> None:
    outside = 'shared/' + 'specs/x.md, spec \u00a73'  # split: the repository must not match
    _edit(pkg / 'head.py', 'head g between', f'head g ({outside}) between')


BREAKS = {
    'layout': _subpackage,
    'manifest': _bad_import,
    'docstrings': _undocumented,
    'configs': _bad_configs,
    'version': _second_version,
    'readme': _readme_without_citation,
    'references': _outside_reference,
}
EXPECTED = {
    'layout': ['fw_broken_layout/models', 'tests'],
    'manifest': ['head:Gone'],
    'docstrings': ['argument(s) hidden', 'CrossEntropyLoss: has no docstring'],
    'configs': [
        "'broken_configs.MLPBackbon'",
        'close: broken_configs.MLPBackbone',
        'syntax.py: does not load',
    ],
    'version': ['setup.cfg', 'plugin.py: states a version'],
    'readme': ["no '## Components'", "no '## Citation'"],
    'references': ['head.py:1'],
}


def test_every_rule_has_a_broken_plugin():
    assert set(BREAKS) == set(contract.RULES) == set(EXPECTED)


@pytest.mark.parametrize('rule', contract.RULES)
def test_rule_catches_a_broken_plugin(rule, tmp_path):
    root = write_plugin(f'broken_{rule}', tmp_path)
    BREAKS[rule](root, root / f'fw_broken_{rule}')
    findings = contract.check(contract.source_at(root))
    assert findings and {f.rule for f in findings} == {rule}, '\n'.join(map(str, findings))
    text = '\n'.join(map(str, findings))
    for expected in EXPECTED[rule]:
        assert expected in text, text
