"""The plugin's own tests: it is registered, and its demo learns (well above chance)."""
import json
import subprocess
import sys


def run_fw(*args, cwd):
    return subprocess.run([sys.executable, '-m', 'framework.cli', *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_components_are_listed(tmp_path):
    out = run_fw('list', '--plugin', '${name}', '--json', cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    names = {row['name'] for row in json.loads(out.stdout)}
    assert {'${name}.MLPBackbone', '${name}.ProjectionHead', '${name}.Classifier'} <= names


def test_demo_trains_above_chance(tmp_path):
    work = tmp_path / 'work'
    out = run_fw('train', '${name}', 'demo', '--work-dir', str(work), '--seed', '0', cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (work / 'epoch_6.pth').is_file()
    metrics = run_fw('test', '${name}', 'demo', str(work / 'epoch_6.pth'), '--json',
                     '--work-dir', str(tmp_path / 'test'), cwd=tmp_path)
    assert metrics.returncode == 0, metrics.stderr[-2000:]
    accuracy = json.loads(metrics.stdout.strip().splitlines()[-1])['demo/accuracy']
    assert accuracy > 0.8  # four classes: chance is 0.25
