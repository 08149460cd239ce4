"""Training and evaluation: config resolution, the mmengine Runner, and distributed start-up.

A plugin config is layered over the core's base configs (``configs/default_runtime.py`` unless the
config sets ``fw_base``), given ``default_scope='fw'`` (unless it names its own scope, as the
mmdet/mmseg plugins do), a work dir, a seed and a launcher, then handed to the plugin's
``fw_train`` hook or, by default, to mmengine's Runner with fw's additions (atomic checkpoints,
exact resume, trusted checkpoint loading, DDP on CPUs, a quiet terminal).
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
import io
import os
import os.path as osp
import signal
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

from . import checkpoint as ckpt
from . import plugins as fw_plugins
from .errors import FwError

CHECKPOINT_KEYS = {'load_from', 'checkpoint', 'pretrained', 'teacher_ckpt', 'teacher_checkpoint'}


def core_config_dir() -> Path:
    """The core's shared base configs (repo ``configs/``, installed as ``framework.configs``)."""
    spec = importlib.util.find_spec('framework.configs')
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(__file__).resolve().parent.parent / 'configs'


def _shipped_config(ref: str, filename: str) -> str | None:
    """``'amcl::amcl_simclr_digits'`` (a plugin's config by name), ``'amcl::_base_/x.py'`` (a
    path in its configs folder; ``fw_amcl::`` works too) or ``'fw::default_runtime.py'`` (the
    core's base configs) -> the file; None for anything else (mmengine's ``mmdet::`` and paths)."""
    scope, sep, rel = ref.partition('::')
    name = scope[3:] if scope.startswith('fw_') else scope
    plugins = fw_plugins.discover()
    if not sep or (scope != 'fw' and name not in plugins):
        return None
    root = core_config_dir() if scope == 'fw' else plugins[name].config_dir
    shipped = {} if scope == 'fw' else plugins[name].configs()
    path = shipped.get(rel) or (root / rel if root else None)
    if path is None or not Path(path).is_file():
        raise FwError(
            f"{filename}: _base_ '{ref}' names no file of {scope} ({root}); "
            f'`fw configs {name if scope != "fw" else "NAME"}` lists the configs'
        )
    return str(path)


def _install_config_lookup() -> None:
    """Teach mmengine's ``_base_`` lookup fw's ``PLUGIN::CONFIG`` form (:func:`_shipped_config`)."""
    from mmengine.config import Config

    original = Config._get_cfg_path
    if getattr(original, 'fw', False):
        return

    def get_cfg_path(cfg_path, filename):
        found = _shipped_config(cfg_path, filename)
        return (found, None) if found else original(cfg_path, filename)

    get_cfg_path.fw = True
    Config._get_cfg_path = staticmethod(get_cfg_path)


_NO_DICT_VALUES = (
    '--cfg-options {item}: a value may be a number, a string, None, a list or a tuple, not a dict '
    '(set one field as {key}.<field>=value); for a list of dicts (e.g. param_scheduler) write a '
    "small config that inherits yours (_base_ = '<plugin>::<config>') and pass its path"
)


def _parse_options(options: Sequence[str]) -> dict[str, Any]:
    from mmengine.config import DictAction

    parsed = {}
    for item in options:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise FwError(f"--cfg-options expects key=value, got '{item}'")
        if 'dict(' in value or value.lstrip('[( ').startswith('{'):  # else parsed as a string
            raise FwError(_NO_DICT_VALUES.format(item=item, key=key))
        try:
            parsed[key] = DictAction._parse_iterable(value)
        except RecursionError:
            raise FwError(_NO_DICT_VALUES.format(item=item, key=key)) from None
        except AssertionError:
            raise FwError(
                f'--cfg-options {item}: unbalanced brackets; write lists as '
                f'{key}=[1,2] or {key}=1,2 (quote them in the shell)'
            ) from None
    return parsed


def _check_options(cfg, options: dict[str, Any], path: Path) -> None:
    """Catch typos and wrong types before training: an override extends an existing part of the
    config (a new top-level key must not be close to an existing one), and a number or a flag
    stays one (``max_epochs=abc``); ``None`` may replace a number (``max_users=None``: no limit)."""
    for key, value in options.items():
        node, parts = cfg.to_dict(), key.split('.')
        for depth, part in enumerate(parts):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                close = difflib.get_close_matches(part, node if isinstance(node, dict) else [])
                if depth < len(parts) - 1 or (depth == 0 and close):
                    where = '.'.join(parts[:depth]) or 'the top level'
                    hint = f'; close: {", ".join(close)}' if close else ''
                    raise FwError(
                        f"--cfg-options {key}: no key '{part}' under {where} of {path}{hint}"
                    )
                node = None  # a new key
                break
        number = isinstance(node, (int, float)) and not isinstance(node, bool)
        flag = isinstance(node, bool) and not isinstance(value, bool)
        if flag or (number and value is not None and not isinstance(value, (int, float))):
            expected = 'a number' if number else 'True or False'
            raise FwError(
                f'--cfg-options {key}={value}: expected {expected} (the config has {node!r})'
            )


def checkpoint_paths(cfg) -> list[str]:
    """Checkpoint files the config points at; a URL is refused (nothing downloads)."""
    found, todo = [], [('', cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg)]
    while todo:
        key, node = todo.pop()
        if isinstance(node, (dict, list, tuple)):
            items = node.items() if isinstance(node, dict) else enumerate(node)
            todo += [(f'{key}.{k}'.lstrip('.'), value) for k, value in items]
        elif key.rpartition('.')[2] in CHECKPOINT_KEYS and isinstance(node, str) and node:
            if '://' in node:  # http(s), s3, hf, open-mmlab, torchvision, ...
                raise FwError(
                    f"config key {key} = '{node}' would download at run time; fw never "
                    f'downloads: put the file on disk and give its local path'
                )
            found.append(node)
    return found


def load_config(
    plugin: str,
    config: str,
    *,
    work_dir: str | None = None,
    cfg_options: Sequence[str] = (),
    launcher: str = 'none',
    seed: int | None = None,
    resume: bool = False,
):
    """The merged mmengine ``Config`` of ``fw train``/``fw test``."""
    from mmengine.config import Config

    record = fw_plugins.get(plugin)
    path = fw_plugins.config_path(record, config)
    _install_config_lookup()
    try:
        own = Config.fromfile(str(path))
    except FwError:
        raise
    except Exception as e:
        raise FwError(f'config {path} does not load: {type(e).__name__}: {e}') from e
    merged = Config()
    for base in own.pop('fw_base', ['default_runtime.py']):
        if not (core_config_dir() / base).is_file():
            raise FwError(f"{path}: fw_base names '{base}', which is not in {core_config_dir()}")
        merged.merge_from_dict(Config.fromfile(str(core_config_dir() / base)).to_dict())
    merged.merge_from_dict(own.to_dict())
    cfg = Config(merged.to_dict(), filename=str(path))
    options = _parse_options(cfg_options)
    _check_options(cfg, options, path)
    cfg.merge_from_dict(options)
    cfg.setdefault('default_scope', 'fw')
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join('work_dirs', record.name, path.stem)
    cfg.launcher, cfg.resume = launcher, bool(resume)
    if seed is not None:
        cfg.randomness = dict(cfg.get('randomness') or {}, seed=seed)
    checkpoint_paths(cfg)
    return cfg


def _init_cpu_distributed(cfg) -> None:
    """On a machine without CUDA: start gloo here (mmengine's init_dist calls
    torch.cuda.set_device) and wrap the model in DDP without device ids."""
    import torch
    import torch.distributed as dist

    if cfg.launcher == 'none' or torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    unused = cfg.get('find_unused_parameters', False)
    wrapper = dict(type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False)
    cfg.setdefault('model_wrapper_cfg', dict(wrapper, find_unused_parameters=unused))
    if cfg.launcher == 'slurm':
        os.environ.setdefault('RANK', os.environ.get('SLURM_PROCID', '0'))
        os.environ.setdefault('WORLD_SIZE', os.environ.get('SLURM_NTASKS', '1'))
        os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
    if 'RANK' not in os.environ:
        raise FwError(
            f'--launcher {cfg.launcher} needs the distributed environment (RANK, WORLD_SIZE, '
            f'MASTER_ADDR); start with --nproc N, torchrun or srun'
        )
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')


def _runner_class(verbose: bool):
    from mmengine.config import Config
    from mmengine.dist import is_main_process
    from mmengine.runner import Runner

    from . import runstate
    from .console import quiet

    class ConfigTextOnce(Config):
        """Formats ``pretty_text`` once: mmengine asks for it at start-up, for the config dump and
        for every checkpoint's meta, and each call runs yapf (about 0.4 s)."""

        @property
        def pretty_text(self):
            if '_fw_text' not in self.__dict__:
                object.__setattr__(self, '_fw_text', Config.pretty_text.fget(self))
            return self.__dict__['_fw_text']

    class FwRunner(Runner):
        """mmengine's Runner with atomic checkpoints, robust resume, a quiet terminal."""

        @classmethod
        def from_cfg(cls, cfg):
            object.__setattr__(cfg, '__class__', ConfigTextOnce)
            return super().from_cfg(cfg)

        def build_logger(self, *args, **kwargs):
            logger = super().build_logger(*args, **kwargs)
            return logger if verbose else quiet(logger)

        def load_checkpoint(self, *args, **kwargs):
            # mmengine print()s 'Loads checkpoint by ...' to stdout here
            with contextlib.redirect_stdout(sys.stdout if verbose else io.StringIO()):
                return super().load_checkpoint(*args, **kwargs)

        def save_checkpoint(self, out_dir, filename, *args, **kwargs):
            if '://' in str(out_dir):
                return super().save_checkpoint(out_dir, filename, *args, **kwargs)
            tmp = f'.{filename}.tmp'
            super().save_checkpoint(out_dir, tmp, *args, **kwargs)  # master rank only
            if is_main_process():
                ckpt.atomic_replace(osp.join(out_dir, tmp), osp.join(out_dir, filename))
                resume_point = osp.join(out_dir, runstate.RESUME_FILE)
                if runstate.PERIODIC.match(filename) and osp.exists(resume_point):
                    os.remove(resume_point)  # superseded by the newer periodic checkpoint

        def load_or_resume(self):
            if self._resume and self._load_from is None and not self._has_loaded:
                self._load_from = ckpt.latest_checkpoint(self.work_dir)
                if self._load_from is None:
                    self._resume = False
                    self.logger.warning(
                        f'--resume: no checkpoint in {self.work_dir}, starting fresh'
                    )
            with ckpt.trusted(self.work_dir, self._load_from):
                return super().load_or_resume()

    return FwRunner


@contextlib.contextmanager
def user_errors(path: str) -> Iterator[None]:
    """Turn config mistakes surfacing as TypeError/KeyError/FileNotFoundError into FwError."""
    try:
        yield
    except FileNotFoundError as e:
        raise FwError(f'{e} (config {path}: check the data or checkpoint paths)') from e
    except (TypeError, KeyError) as e:
        msg = str(e.args[0]) if e.args else str(e)
        if isinstance(e, FwError) or not any(w in msg for w in ('argument', 'registry', 'not in')):
            raise
        raise FwError(f'config {path}: {msg}') from e


def build_runner(cfg, *, verbose: bool = False, strict: bool = True):
    """The Runner for ``cfg`` (``runner_type`` in the config selects another registered one),
    with fw's hooks: :class:`~framework.runstate.RunStateHook` (RNG states, resume points, strict
    loading) and :class:`~framework.console.ProgressHook`; ``verbose`` keeps mmengine's
    terminal output, ``strict`` makes a checkpoint whose keys do not match the model an error."""
    from . import runstate
    from .console import ProgressHook, quiet
    from .openmmlab import TOOLKITS, import_toolkit
    from .registry import RUNNERS

    ckpt.install()
    if cfg.get('default_scope') in TOOLKITS:  # one clear error if the stack is absent
        import_toolkit(cfg.default_scope)
    _init_cpu_distributed(cfg)
    with user_errors(cfg.filename):
        if cfg.get('runner_type'):
            runner = RUNNERS.build(cfg)
        else:
            runner = _runner_class(verbose).from_cfg(cfg)
    if not verbose:
        quiet(runner.logger)  # and every other mmengine logger made so far
    runner.load_strict = strict
    runner.register_hook(runstate.RunStateHook(cfg.get('resume_every_n_iters', 1000)))
    if not verbose and runner.rank == 0:
        interval = cfg.get('default_hooks', {}).get('logger', {}).get('interval', 10)
        runner.register_hook(ProgressHook(interval))
    return runner


def train(plugin: str, config: str, *, verbose: bool = False, strict: bool = True, **kwargs):
    """``fw train``: returns the plugin's result, or the mmengine Runner after training (its
    ``fw_summary`` holds the lines of the end-of-training table). SIGINT/SIGTERM raise
    :class:`~framework.runstate.Interrupted`, saying what was saved."""
    from . import runstate
    from .console import ProgressHook, summary

    fw_plugins.activate(plugin)
    cfg = load_config(plugin, config, **kwargs)
    ckpt.install()
    with (
        runstate.work_dir_lock(cfg.work_dir, f'fw train {plugin} {config}'),
        ckpt.trusted(*checkpoint_paths(cfg)),
        runstate.stop_on_signals() as caught,
    ):
        runner = None
        try:
            result = fw_plugins.plugin_manager().hook.fw_train(cfg=cfg, plugin=plugin)
            if result is not None:
                return result
            runner = build_runner(cfg, verbose=verbose, strict=strict)
            with user_errors(cfg.filename):
                runner.train()
        except (KeyboardInterrupt, RuntimeError) as e:
            if isinstance(e, RuntimeError) and not caught:
                raise
            sig = caught[-1] if caught else signal.SIGINT
            raise runstate.interrupted(sig, runner, cfg) from None
    progress = [h for h in runner.hooks if isinstance(h, ProgressHook)]
    if runner.rank == 0:
        runner.fw_summary = summary(runner, progress[0] if progress else None)
    return runner


def test_split(cfg, plugin: str, announce: bool = False):
    """``cfg`` with a test split: its own, else its validation split (said on stderr); a config
    with neither is an error naming the fix: add a split, or the plugin's own commands."""
    if not (cfg.get('test_dataloader') and cfg.get('test_evaluator')):
        if not (cfg.get('val_dataloader') and cfg.get('val_evaluator')):
            commands = [c['name'] for c in fw_plugins.get(plugin).manifest['commands']]
            own = f'`fw {plugin} --help` ({", ".join(commands)})' if commands else 'its own code'
            what = 'a training config' if cfg.get('model') else 'a job without a model'
            raise FwError(
                f'{cfg.filename} has neither a test nor a validation split, so `fw test` has '
                f'nothing to score: it is {what}; add val_dataloader and val_evaluator (or '
                f'test_dataloader and test_evaluator) to it, or evaluate with {own}'
            )
        if announce:
            name = Path(cfg.filename).stem
            print(f'fw: {name} has no test split: testing on its validation split', file=sys.stderr)
        cfg.test_dataloader, cfg.test_evaluator = cfg.val_dataloader, cfg.val_evaluator
        cfg.test_cfg = None
    cfg.test_cfg = cfg.get('test_cfg') or dict(type='TestLoop')
    return cfg


def test(plugin: str, config: str, checkpoint: str, *, verbose=False, strict=True, **kwargs):
    """``fw test``: evaluation only; returns the metrics dict. A config without a test split is
    tested on its validation split (``val_dataloader``/``val_evaluator``), and says so."""
    if not Path(checkpoint).is_file():
        raise FwError(f'checkpoint {checkpoint} does not exist')
    fw_plugins.activate(plugin)
    cfg = load_config(plugin, config, **kwargs)
    cfg.load_from, cfg.resume = str(checkpoint), False
    test_split(cfg, plugin, announce=True)
    ckpt.install()
    with ckpt.trusted(checkpoint, *checkpoint_paths(cfg)):
        runner = build_runner(cfg, verbose=verbose, strict=strict)
        with user_errors(cfg.filename):
            return runner.test()
