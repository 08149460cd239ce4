"""``fw new-plugin``: write a complete third-party plugin from the templates beside this file."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from .errors import FwError

TEMPLATES = Path(__file__).parent / 'scaffold_templates'


def write_plugin(name: str, directory: str | Path = '.') -> Path:
    """Write ``directory/fw-<name>/``: setup.cfg with the entry point, manifest, components, a
    ``demo`` config and a test. ``name`` must be a Python identifier (it becomes ``fw_<name>``)."""
    if not re.fullmatch(r'[a-z][a-z0-9_]*', name):
        raise FwError(
            f"plugin name '{name}' must be lower case letters, digits and underscores, "
            f'starting with a letter (it becomes the package fw_{name})'
        )
    root = Path(directory) / f'fw-{name}'
    if root.exists():
        raise FwError(f'{root} already exists; choose another --dir or remove it')
    for src in sorted(TEMPLATES.rglob('*')):
        if src.is_dir() or '__pycache__' in src.parts:
            continue
        rel = Path(*[p.replace('NAME', name) for p in src.relative_to(TEMPLATES).parts])
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(Template(src.read_text()).substitute(name=name))
    return root
