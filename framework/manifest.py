"""Static plugin manifests: what a plugin offers, read without importing it (no torch, no mmengine).

``fw_<name>/manifest.json``::

    {"name": "amcl", "summary": "one line",
     "components": [{"kind": "backbone", "name": "ResNet18Cifar", "summary": "...",
                     "import": "fw_amcl.backbone:ResNet18Cifar"}],
     "commands": [{"name": "compare", "summary": "...", "import": "fw_amcl.commands:compare"}]}

Configs are the ``*.py`` files of the package's ``configs/`` folder (``_base_`` folders excluded).
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import FwError

MANIFEST_FILE = 'manifest.json'
# the kinds of framework.registry.KINDS (kept here: listing must not import mmengine)
KNOWN_KINDS = tuple(
    'backbone neck head loss cache model dataset metric transform hook loop data_sampler optimizer '
    'optim_wrapper param_scheduler evaluator task_util visualizer function model_wrapper'.split()
)


def normalise_kind(kind: str) -> str:
    """``heads`` -> ``head``; unknown kinds are returned unchanged (they match nothing)."""
    kind = kind.lower().replace('-', '_')
    if kind not in KNOWN_KINDS and kind.endswith('s') and kind[:-1] in KNOWN_KINDS:
        return kind[:-1]
    if kind == 'losses':
        return 'loss'
    return kind


def read_manifest(path: Path, plugin: str) -> dict:
    """Read and check one manifest; a malformed one raises FwError naming the file and the key."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise FwError(
            f'plugin {plugin} has no {path.name} at {path}; every plugin ships one '
            f'(see `fw new-plugin`)'
        ) from None
    except json.JSONDecodeError as e:
        raise FwError(f'{path}: not valid JSON ({e})') from None
    for i, comp in enumerate(data.get('components', [])):
        for key in ('kind', 'name', 'import'):
            if not isinstance(comp.get(key), str) or not comp[key]:
                raise FwError(f"{path}: components[{i}] lacks the string key '{key}'")
        if comp['kind'] not in KNOWN_KINDS:
            raise FwError(
                f"{path}: components[{i}] has kind '{comp['kind']}'; expected one of "
                f'{", ".join(KNOWN_KINDS)}'
            )
        if ':' not in comp['import']:
            raise FwError(
                f"{path}: components[{i}].import must be 'package.module:Name', "
                f"got '{comp['import']}'"
            )
    for i, cmd in enumerate(data.get('commands', [])):
        for key in ('name', 'import'):
            if not isinstance(cmd.get(key), str) or not cmd[key]:
                raise FwError(f"{path}: commands[{i}] lacks the string key '{key}'")
    data.setdefault('components', [])
    data.setdefault('commands', [])
    return data


def list_configs(config_dir: Path | None) -> dict[str, Path]:
    """Config name -> file, for every ``*.py`` under ``config_dir`` outside ``_base_`` folders."""
    if config_dir is None or not config_dir.is_dir():
        return {}
    found = {}
    for path in sorted(config_dir.rglob('*.py')):
        rel = path.relative_to(config_dir)
        if any(part.startswith('_') for part in rel.parts):
            continue
        found.setdefault(path.stem, path)
    return found
