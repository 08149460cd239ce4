"""`fw train/test/report` as a user meets them, in one process (no start-up per command): a user
config inheriting a shipped one by name, a quiet terminal with progress and a summary table,
`fw test` on the validation split with pure JSON, strict checkpoint keys, one line per bad input,
the work-dir lock, SIGTERM, and `fw report`'s PNG. Uses the amcl plugin (8x8 digits, 1 epoch)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip('fw_amcl')

USER_CONFIG = """# My variant: AMCL-SimCLR on the digits, evaluated by kNN only.
_base_ = 'amcl::amcl_simclr_digits'
val_evaluator = [dict(type='amcl.WeightedKNN', k=20, t=0.1)]
train_cfg = dict(max_epochs=2, val_interval=1)
default_hooks = dict(logger=dict(interval=2))
"""


def run(capfd, *args: str) -> tuple[int, str, str]:
    from framework.cli import main

    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = e.code or 0
    out, err = capfd.readouterr()
    return code, out, err


def one_line_error(result, *needles: str) -> str:
    code, out, err = result
    assert code == 2, (out + err)[-3000:]
    assert 'Traceback' not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith('fw: error:')]
    assert len(errors) == 1 and all(ln.startswith('fw: ') for ln in lines), err[-3000:]
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A 2-epoch run of USER_CONFIG: (config path, work dir, stdout, stderr)."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp('run')
    config = root / 'my_simclr.py'
    config.write_text(USER_CONFIG)
    work = root / 'work'
    out = subprocess.run(
        [
            sys.executable,
            '-m',
            'framework.cli',
            'train',
            'amcl',
            str(config),
            '--work-dir',
            str(work),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'),
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return config, work, out.stdout, out.stderr


def test_user_config_inherits_a_shipped_config_by_name(trained, tmp_path, capfd):
    from framework.train import load_config

    config, work, _, _ = trained
    cfg = load_config('amcl', str(config))
    assert cfg.model.type == 'amcl.SimCLR' and cfg.model.num_heads == 3  # from the shipped one
    assert cfg.train_cfg.max_epochs == 2 and len(cfg.val_evaluator) == 1  # ours
    assert (work / 'epoch_2.pth').is_file()
    for ref in ("'fw_amcl::amcl_simclr_digits.py'", "'amcl::_base_/digits_cpu.py'"):
        alt = tmp_path / 'alt.py'
        alt.write_text(f'_base_ = {ref}\n')
        assert load_config('amcl', str(alt)).optim_wrapper.optimizer.type == 'Adam'
    alt.write_text("_base_ = 'amcl::amcl_simclr_digitz'\n")
    one_line_error(
        run(capfd, 'train', 'amcl', alt),
        "'amcl::amcl_simclr_digitz' names no file",
        '`fw configs amcl`',
    )


def test_quiet_terminal_progress_and_summary(trained):
    _, work, out, err = trained
    log = next(work.glob('*/*.log')).read_text()
    assert 'Config:' in log and 'Config:' not in out + err  # the dump goes to the log only
    assert 'Hooks will be executed' not in out + err and 'WARNING' not in out + err
    progress = [ln for ln in err.splitlines() if ln.startswith('epoch ')]
    assert progress and all('loss ' in ln and 'eta ' in ln for ln in progress), err
    assert out.startswith('training done: 8 iterations, 2 epochs'), out
    table = dict(ln.strip().split(None, 1) for ln in out.splitlines()[1:] if '  ' in ln.strip())
    assert 0.5 < float(table['knn/accuracy']) <= 1.0
    assert out.count(str(work / 'epoch_2.pth')) == 1 and 'wall time' in out
    plots = [ln.split(None, 1)[1] for ln in out.splitlines() if ln.strip().startswith('plots ')]
    assert plots == [str(work / 'report.png')] and (work / 'report.png').stat().st_size > 20_000


def test_fw_test_uses_the_validation_split_and_json_is_pure(trained, capfd):
    config, work, out, _ = trained
    code, stdout, stderr = run(capfd, 'test', 'amcl', config, work / 'epoch_2.pth', '--json')
    assert code == 0, stderr[-3000:]
    metrics = json.loads(stdout)  # nothing but the JSON on stdout
    assert 'no test split: testing on its validation split' in stderr
    final = dict(ln.strip().split(None, 1) for ln in out.splitlines()[1:])
    assert abs(metrics['knn/accuracy'] - float(final['knn/accuracy'])) < 1e-4, (metrics, final)


def test_every_shipped_config_can_be_tested():
    """Every config with a validation or test split gets a test split; one with neither (e.g. a
    plugin's decoding job) is one error pointing at the plugin's own commands."""
    from framework import plugins as fw_plugins
    from framework.errors import FwError
    from framework.train import load_config, test_split

    tested = {}
    for name, plugin in fw_plugins.discover().items():
        if plugin.status != 'ok':
            continue
        for config in plugin.configs():
            cfg = load_config(name, config)
            try:
                test_split(cfg, name)
            except FwError as e:  # the error names the fix
                assert 'neither a test nor a validation split' in str(e), e
                assert 'add val_dataloader and val_evaluator' in str(e) and '--help' in str(e), e
                assert not cfg.get('val_dataloader') and not cfg.get('test_dataloader')
                continue
            assert cfg.test_dataloader and cfg.test_evaluator, (name, config)
            assert cfg.test_cfg is not None, (name, config)
            tested[name] = tested.get(name, 0) + 1
    assert tested.get('amcl', 0) >= 12, tested


def test_checkpoint_of_another_model_is_an_error(trained, capfd):
    _, work, _, _ = trained
    line = one_line_error(
        run(capfd, 'test', 'amcl', 'amcl_barlow_digits', work / 'epoch_2.pth'),
        'does not match the model BarlowTwins',
        'missing keys',
        'unexpected keys',
        '--no-strict',
    )
    assert 'neck.heads' in line
    code, _, err = run(
        capfd, 'test', 'amcl', 'amcl_barlow_digits', work / 'epoch_2.pth', '--no-strict'
    )
    assert code == 0, err[-3000:]


def test_bad_checkpoint_files_are_one_line(tmp_path, capfd):
    empty, corrupt = tmp_path / 'empty.pth', tmp_path / 'corrupt.pth'
    empty.write_bytes(b'')
    corrupt.write_bytes(os.urandom(4096))
    base = ['test', 'amcl', 'amcl_simclr_digits']
    one_line_error(run(capfd, *base, empty), 'is empty (0 bytes)')
    one_line_error(run(capfd, *base, corrupt), 'not a readable PyTorch checkpoint')
    one_line_error(run(capfd, *base, tmp_path / 'missing.pth'), 'does not exist')


def test_bad_cfg_option_values_are_one_line(tmp_path, capfd):
    base = ['train', 'amcl', 'amcl_simclr_digits', '--work-dir', tmp_path / 'w', '--cfg-options']
    one_line_error(run(capfd, *base, 'train_cfg.max_epochs=abc'), 'expected a number')
    one_line_error(run(capfd, *base, 'model.neck.hidden=[1,2'), 'unbalanced brackets')
    one_line_error(run(capfd, *base, 'model.amcl=maybe'), 'expected True or False')
    # a list of dicts has no command-line syntax in mmengine (its parser recursed without end)
    sched = "param_scheduler=[dict(type='CosineAnnealingLR',T_max=20,by_epoch=False)]"
    one_line_error(run(capfd, *base, sched), 'write a small config that inherits')


def test_none_may_replace_a_number_option(tmp_path):
    """``key=None`` turns a numeric limit off (e.g. ``test_dataloader.dataset.max_users=None``)."""
    from mmengine.config import Config

    from framework import FwError, load_config
    from framework.train import _check_options, _parse_options

    cfg = Config(dict(data=dict(max_users=200)))
    _check_options(cfg, _parse_options(['data.max_users=None']), tmp_path / 'c.py')
    with pytest.raises(FwError, match='expected a number'):
        _check_options(cfg, _parse_options(['data.max_users=all']), tmp_path / 'c.py')
    loaded = load_config('amcl', 'amcl_simclr_digits', cfg_options=['train_cfg.max_epochs=None'])
    assert loaded.train_cfg.max_epochs is None


def test_work_dir_lock_names_the_holder(tmp_path, capfd):
    from framework.runstate import work_dir_lock

    with work_dir_lock(str(tmp_path / 'w'), 'fw train amcl x'):
        line = one_line_error(
            run(capfd, 'train', 'amcl', 'amcl_simclr_digits', '--work-dir', tmp_path / 'w'),
            'is in use by pid',
            '--work-dir',
        )
        assert f'pid {os.getpid()} ' in line and 'fw train amcl x' in line


def test_sigterm_stops_cleanly_with_a_resume_hint(tmp_path, capfd):
    work = tmp_path / 'w'

    def stop_after_first_checkpoint():
        deadline = time.time() + 600
        while not (work / 'last_checkpoint').exists() and time.time() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=stop_after_first_checkpoint, daemon=True).start()
    code, _, err = run(
        capfd,
        'train',
        'amcl',
        'amcl_simclr_digits',
        '--work-dir',
        work,
        '--cfg-options',
        'train_cfg.max_epochs=50',
    )
    assert code == 143, err[-3000:]
    line = [ln for ln in err.splitlines() if ln.startswith('fw: ')][-1]
    assert 'stopped by SIGTERM' in line and 'last checkpoint: ' in line
    again = f'continue with: fw train amcl amcl_simclr_digits --work-dir {work} --cfg-options'
    assert f'{again} train_cfg.max_epochs=50 --resume' in line, line
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is removed again


def test_report_plots_every_logged_series(trained, capfd):
    _, work, _, _ = trained
    code, out, err = run(capfd, 'report', work, '--json')
    assert code == 0, err
    summary = json.loads(out)
    png = Path(summary['png'])
    assert png == work / 'report.png' and png.stat().st_size > 20_000
    import matplotlib.image

    height, width = matplotlib.image.imread(png).shape[:2]
    assert width >= 1000 and height >= 700  # 2 columns of panels: loss, lr, val, tau, ...
    assert {'loss', 'lr', 'knn/accuracy', 'tau_pos_mean'} <= set(summary['final'])
    assert summary['iterations'] == 8 and summary['checkpoints'] == ['epoch_2.pth']
    one_line_error(run(capfd, 'report', work / 'nothing'), 'does not exist')


def test_dict_values_are_refused_but_braces_in_strings_are_not():
    """mmengine would keep ``dict(a=1)`` as the string 'dict(a=1)' (or recurse without end on
    ``[dict(a=1,b=2)]``); a path with braces stays a plain string."""
    from framework import FwError
    from framework.train import _parse_options

    assert _parse_options(['work_dir=runs/{name}']) == {'work_dir': 'runs/{name}'}
    for value in ('m=dict(a=1)', 'p=[dict(type=1,b=2)]', 'q={"a":1}'):
        with pytest.raises(FwError, match='not a dict'):
            _parse_options([value])
