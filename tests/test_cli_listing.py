"""Listing is static and isolated: no heavy imports, broken plugins reported, strict mode fails."""

import json
import subprocess
import sys

import pytest

BROKEN = {
    'fw_broken/__init__.py': '',
    'fw_broken/plugin.py': 'raise ImportError("fw_broken needs a package that is not installed")\n',
    'fw_broken/manifest.json': json.dumps(
        {
            'name': 'broken',
            'components': [{'kind': 'model', 'name': 'Broken', 'import': 'fw_broken.model:Broken'}],
        }
    ),
}
GOOD = {
    'fw_good/__init__.py': '',
    'fw_good/plugin.py': 'from framework.hookspecs import hookimpl\n\n@hookimpl\n'
    'def fw_plugin_info():\n    return {"name": "good", "requires": '
    '{"torch": ">=2.1", "click": ">=99"}}\n',
    'fw_good/manifest.json': json.dumps(
        {
            'name': 'good',
            'summary': 'a good plugin',
            'components': [
                {
                    'kind': 'backbone',
                    'name': 'TinyNet',
                    'summary': 'tiny',
                    'import': 'fw_good.m:TinyNet',
                },
                {
                    'kind': 'head',
                    'name': 'TinyHead',
                    'summary': 'head',
                    'import': 'fw_good.m:TinyHead',
                },
            ],
            'commands': [{'name': 'hello', 'summary': 'say hello', 'import': 'fw_good.cmd:hello'}],
        }
    ),
    'fw_good/cmd.py': 'import click\n\n@click.command()\ndef hello():\n    click.echo("hello")\n',
    'fw_good/configs/small.py': '# A small config.\n# More words.\nmodel = dict(type="good.TinyNet")\n',
    'fw_good/m.py': (
        'class TinyNet:\n    """A tiny net.\n\n    Args: ``width`` (channels).\n    """\n\n'
        '    def __init__(self, width: int = 8):\n        self.width = width\n'
    ),
}


@pytest.fixture
def fw(tmp_path, write_dist, make_fw):
    site = tmp_path / 'site'
    write_dist(site, 'good', GOOD)
    write_dist(site, 'broken', BROKEN)
    return make_fw(site, load='good,broken')


def test_broken_plugin_does_not_break_listing(fw):
    out = fw('list', '--json')
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {r['name'] for r in rows} == {'good.TinyNet', 'good.TinyHead'}
    assert set(rows[0]) >= {'name', 'kind', 'plugin', 'summary'}
    assert 'broken' in out.stderr  # a warning line, not a traceback
    assert 'Traceback' not in out.stderr


def test_plugins_reports_the_error(fw):
    out = fw('plugins', '--json')
    assert out.returncode == 0
    by_name = {r['name']: r for r in json.loads(out.stdout)}
    assert by_name['good']['status'] == 'ok' and by_name['good']['dist'] == 'fw-good'
    assert by_name['broken']['status'] == 'error'
    assert 'needs a package that is not installed' in by_name['broken']['error']


def test_strict_mode_fails(fw):
    out = fw('list', FW_STRICT_PLUGINS='1')
    assert out.returncode != 0
    assert 'broken' in out.stderr and 'Traceback' not in out.stderr


def test_load_plugins_narrows(fw):
    out = fw('plugins', '--json', FW_LOAD_PLUGINS='good')
    assert [r['name'] for r in json.loads(out.stdout)] == ['good']
    out = fw('list', '--json', FW_LOAD_PLUGINS='')
    assert json.loads(out.stdout) == []


def test_kind_and_pattern_filters(fw):
    rows = json.loads(fw('list', 'heads', '--json').stdout)
    assert [r['name'] for r in rows] == ['good.TinyHead']
    rows = json.loads(fw('list', 'Tiny*', '--json').stdout)
    assert len(rows) == 2
    rows = json.loads(fw('list', 'backbone', 'good.*Net', '--json').stdout)
    assert [r['name'] for r in rows] == ['good.TinyNet']


def one_line_error(out, *needles):
    assert out.returncode == 2 and 'Traceback' not in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    for needle in needles:
        assert needle in out.stderr, out.stderr


def test_configs_and_plugin_commands(fw):
    assert fw('configs', 'good').stdout.split() == ['small', 'A', 'small', 'config.']
    assert fw('configs', 'good', '--path').stdout.split()[1].endswith('fw_good/configs/small.py')
    assert fw('good', 'hello').stdout.strip() == 'hello'
    out = fw('configs', 'god')
    assert out.returncode == 2 and 'close: good' in out.stderr


def test_listing_imports_no_heavy_package(fw):
    code = (
        'import sys\nfrom framework.cli import main\n'
        'for args in (["list"], ["plugins"], ["configs", "good"], ["--help"]):\n'
        '    try:\n        main(args)\n    except SystemExit:\n        pass\n'
        'heavy = [m for m in ("torch", "mmengine", "mmdet", "mmseg", "mmcv", "transformers",'
        ' "diffusers", "numpy") if m in sys.modules]\n'
        'print("HEAVY", heavy)\n'
    )
    out = subprocess.run(
        [sys.executable, '-c', code], env=fw.env(), capture_output=True, text=True, cwd=fw.cwd
    )
    assert 'HEAVY []' in out.stdout, out.stdout + out.stderr


def test_unknown_config_is_one_line(fw):
    out = fw('train', 'good', 'smal')
    assert out.returncode == 2
    assert out.stderr.strip().count('\n') == 0, out.stderr
    assert "no config 'smal' in plugin good; close: 'small'" in out.stderr


def test_doctor_names_each_problem_and_its_fix(fw):
    out = fw('doctor', '--json')
    assert out.returncode == 1
    report = json.loads(out.stdout)
    problems = '\n'.join(report['problems'])
    assert 'plugin good needs click>=99' in problems and 'pip install "click>=99"' in problems
    assert 'torch' not in problems  # torch>=2.1 is satisfied
    assert 'plugin broken does not load' in problems
    versions = {row['name']: row['version'] for row in report['packages']}
    assert versions['torch'].startswith('2.13.0') and versions['mmengine'] == '0.10.7'


def test_listing_fits_the_terminal_width(fw):
    for args in (['list'], ['plugins'], ['configs', 'good']):
        out = fw(*args, COLUMNS='40')
        assert out.returncode == 0 and out.stdout.strip(), out.stderr
        assert max(len(line) for line in out.stdout.splitlines()) <= 40, out.stdout


def test_show_prints_signature_and_docstring(fw):
    for args in (['show', 'good.TinyNet'], ['list', '--args', 'TinyNet']):
        out = fw(*args)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith('good.TinyNet(width: int = 8)'), out.stdout
        assert 'A tiny net.' in out.stdout and 'fw_good.m:TinyNet' in out.stdout
    one_line_error(fw('show', 'TinyNett'), "no component 'TinyNett'", 'close: good.TinyNet')


def test_new_plugin_refuses_an_installed_name(fw, tmp_path):
    one_line_error(
        fw('new-plugin', 'good', '--dir', str(tmp_path)),
        "'good' is installed",
        'fw-good',
        'another name',
    )
    assert not (tmp_path / 'fw-good').exists()


def test_strict_mode_applies_to_every_command(fw):
    for args in (['configs', 'good'], ['train', 'good', 'small'], ['show', 'good.TinyNet']):
        out = fw(*args, FW_STRICT_PLUGINS='1')
        assert out.returncode == 2 and 'FW_STRICT_PLUGINS=1' in out.stderr, out.stderr
        assert 'plugin broken' in out.stderr and 'Traceback' not in out.stderr
    assert fw('plugins', FW_STRICT_PLUGINS='1').returncode == 2


def test_configs_of_a_broken_plugin_is_an_error(fw):
    one_line_error(fw('configs', 'broken'), 'plugin broken is broken', 'not installed')


def test_empty_load_plugins_says_so(fw):
    for args in (['list'], ['plugins']):
        out = fw(*args, FW_LOAD_PLUGINS='')
        assert 'FW_LOAD_PLUGINS is set and empty' in out.stdout, out.stdout
