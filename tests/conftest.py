"""Shared fixtures for the core tests: installed throw-away plugins and an `fw` runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[1]


def write_dist(target: Path, name: str, files: dict[str, str], version: str = '0.1.0') -> None:
    """Install a minimal plugin distribution by hand (dist-info + entry point) into ``target``."""
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    info = target / f'fw_{name}-{version}.dist-info'
    info.mkdir(parents=True, exist_ok=True)
    (info / 'METADATA').write_text(f'Metadata-Version: 2.1\nName: fw-{name}\nVersion: {version}\n')
    (info / 'entry_points.txt').write_text(f'[fw.plugins]\n{name} = fw_{name}.plugin\n')


class FwRunner:
    """Runs ``python -m framework.cli`` with extra plugin folders on PYTHONPATH."""

    def __init__(self, paths: list[Path], cwd: Path, load: str | None = None):
        self.paths, self.cwd, self.load = paths, cwd, load

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [str(p) for p in self.paths] + [env.get('PYTHONPATH', '')]
        ).strip(os.pathsep)
        env.setdefault('OMP_NUM_THREADS', '1')
        env.pop('FW_STRICT_PLUGINS', None)
        env.pop('FW_LOAD_PLUGINS', None)
        if self.load is not None:  # only the plugins under test, whatever else is installed
            env['FW_LOAD_PLUGINS'] = self.load
        env.update(extra)
        return env

    def __call__(self, *args: str, timeout: int = 900, **extra: str):
        return subprocess.run(
            [sys.executable, '-m', 'framework.cli', *args],
            cwd=self.cwd,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen(self, *args: str, **extra: str):
        return subprocess.Popen(
            [sys.executable, '-m', 'framework.cli', *args],
            cwd=self.cwd,
            env=self.env(**extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


@pytest.fixture(scope='session')
def scaffold_install(tmp_path_factory) -> tuple[Path, Path]:
    """``fw new-plugin scaffdemo`` written and pip-installed into a private target folder."""
    root = tmp_path_factory.mktemp('scaffold')
    made = subprocess.run(
        [
            sys.executable,
            '-m',
            'framework.cli',
            'new-plugin',
            'scaffdemo',
            '--dir',
            str(root / 'src'),
        ],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    source = root / 'src' / 'fw-scaffdemo'
    target = root / 'site'
    out = subprocess.run(
        [
            sys.executable,
            '-m',
            'pip',
            'install',
            '--quiet',
            '--no-deps',
            '--no-build-isolation',
            '--target',
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return source, target


@pytest.fixture
def fw_scaffold(scaffold_install, tmp_path) -> FwRunner:
    return FwRunner([scaffold_install[1]], tmp_path, load='scaffdemo')


@pytest.fixture(name='write_dist')
def write_dist_fixture():
    return write_dist


@pytest.fixture
def make_fw(tmp_path):
    """``make_fw(site_dirs...)`` -> an FwRunner with those folders on PYTHONPATH."""
    return lambda *paths, load=None: FwRunner(list(paths), tmp_path, load)


def config_plugin_files(
    name: str, requires: dict[str, str], configs: dict[str, str]
) -> dict[str, str]:
    """A throw-away fw plugin whose only content is configs (install it with ``write_dist``)."""
    files = {
        f'fw_{name}/__init__.py': '',
        f'fw_{name}/plugin.py': (
            'from framework.hookspecs import hookimpl\n\n\n@hookimpl\ndef fw_plugin_info():\n'
            f'    return {{"name": "{name}", "requires": {json.dumps(requires)}}}\n'
        ),
        f'fw_{name}/manifest.json': json.dumps({'name': name, 'components': []}),
    }
    files.update({f'fw_{name}/configs/{stem}.py': text for stem, text in configs.items()})
    return files


def read_scalars(work_dir: Path) -> list[dict]:
    """The per-iteration and validation scalars mmengine's LocalVisBackend wrote."""
    (path,) = work_dir.glob('*/vis_data/scalars.json')
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def last_json_line(stdout: str) -> dict:
    return json.loads([line for line in stdout.splitlines() if line.startswith('{')][-1])


@pytest.fixture(scope='session')
def e2e():
    """Helpers of the end-to-end tests that train a config-only plugin through ``fw``."""
    return SimpleNamespace(
        plugin_files=config_plugin_files, read_scalars=read_scalars, last_json_line=last_json_line
    )
