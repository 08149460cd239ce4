"""What makes a run stoppable and exactly resumable, as one mmengine hook plus a lock.

* Every checkpoint carries the random states (Python, NumPy, torch, CUDA, and the train loader's
  generator and sampler seed/epoch) under ``rng_state``; ``--resume`` restores them where the
  uninterrupted run would have read them: before the next epoch, or, in iteration-based loops,
  after mmengine has replayed the data loader up to the checkpoint's iteration. Under DDP only
  rank 0 writes the checkpoint, so there every rank's Python/NumPy/torch state is instead derived
  from its seed (per rank with ``randomness.diff_rank_seed``) and the iteration, after every
  iteration: a resumed rank draws what it would have drawn, with no state of its own saved.
* Validation runs on a copy of the random states, so evaluating (or not) never shifts the
  training's random streams: a resumed run and an uninterrupted one draw the same numbers.
* A resume point: ``latest.pth`` is written after every epoch (iteration-based loops: every
  ``resume_every_n_iters`` iterations, default 1000) unless the config's CheckpointHook just saved.
* Loading a checkpoint whose keys do not match the model is an error naming the keys, unless the
  runner's ``load_strict`` is False (``--no-strict``).
* :func:`work_dir_lock`: one run per work dir; :func:`stop_on_signals`: SIGINT/SIGTERM end cleanly.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import socket
import time
from pathlib import Path
from typing import Iterator

from mmengine.hooks import Hook

from .errors import FwError

RESUME_FILE = 'latest.pth'
PERIODIC = re.compile(r'(epoch|iter)_\d+\.pth$')


class Interrupted(FwError):
    """SIGINT/SIGTERM during a run; ``exit_code`` is 128 + the signal number."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def rng_state(loader=None) -> dict:
    import numpy as np
    import torch

    state = dict(python=random.getstate(), numpy=np.random.get_state(), torch=torch.get_rng_state())
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    if getattr(loader, 'generator', None) is not None:
        state['loader_generator'] = loader.generator.get_state()
    sampler = getattr(loader, 'sampler', None)
    state['sampler'] = {k: getattr(sampler, k) for k in ('seed', 'epoch') if hasattr(sampler, k)}
    return state


def set_rng_state(state: dict, loader=None) -> None:
    import numpy as np
    import torch

    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])
    if 'loader_generator' in state and getattr(loader, 'generator', None) is not None:
        loader.generator.set_state(state['loader_generator'])
    for key, value in state.get('sampler', {}).items():
        setattr(getattr(loader, 'sampler', None), key, value)


class _RestoreBeforeNext:
    """Wraps the loop's data iterator: after ``skip`` batches, restore the saved states once."""

    def __init__(self, loop, skip: int, restore):
        self.loop, self.inner, self.skip, self.restore = (
            loop,
            loop.dataloader_iterator,
            skip,
            restore,
        )

    def __next__(self):
        if self.skip == 0:
            self.restore()
            self.loop.dataloader_iterator = self.inner
        self.skip -= 1
        return next(self.inner)


class RunStateHook(Hook):
    """RNG states in checkpoints, validation on a copy of them, resume points, strict loading."""

    priority = 'LOWEST'  # after CheckpointHook, so its save in the same epoch is seen

    def __init__(self, every_n_iters: int = 1000):
        self.every_n_iters = every_n_iters
        self._outside_val = None  # the training states while validation runs
        self._pending = None  # states from a resumed checkpoint, not yet restored
        self._saved_iter = None

    @staticmethod
    def _loader(runner):
        loop = runner._train_loop
        return getattr(loop, 'dataloader', None) if not isinstance(loop, dict) else None

    def before_save_checkpoint(self, runner, checkpoint):
        checkpoint['rng_state'] = self._outside_val or rng_state(self._loader(runner))
        self._saved_iter = runner.iter

    @staticmethod
    def _derive(runner, iteration: int) -> None:
        """Under DDP: seed Python, NumPy and torch from the rank's seed and ``iteration``."""
        import numpy as np
        import torch

        if runner.world_size > 1:
            entropy = [(runner.seed or 0) % 2**32, iteration]
            seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
            random.seed(seed)
            np.random.seed(seed)
            torch.manual_seed(seed)

    def after_load_checkpoint(self, runner, checkpoint):
        from .checkpoint import check_keys

        check_keys(runner, checkpoint, strict=getattr(runner, 'load_strict', True))
        if runner._resume and 'rng_state' in checkpoint:
            self._pending = checkpoint['rng_state']

    def before_train(self, runner):
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        loop = runner.train_loop

        def restore():
            set_rng_state(state, self._loader(runner))
            self._derive(runner, runner.iter)

        if hasattr(loop, 'dataloader_iterator') and loop.iter > 0:  # it replays `iter` batches
            loop.dataloader_iterator = _RestoreBeforeNext(loop, loop.iter, restore)
        else:
            restore()

    def before_val(self, runner):
        if runner._train_loop is not None and not isinstance(runner._train_loop, dict):
            self._outside_val = rng_state(self._loader(runner))

    def after_val(self, runner):
        if self._outside_val is not None:
            set_rng_state(self._outside_val, self._loader(runner))
            self._outside_val = None

    def _save_resume_point(self, runner, by_epoch: bool):
        if self._saved_iter == runner.iter:
            return  # the config's CheckpointHook saved this step
        runner.save_checkpoint(runner.work_dir, RESUME_FILE, by_epoch=by_epoch)
        if runner.rank == 0:
            Path(runner.work_dir, 'last_checkpoint').write_text(f'{runner.work_dir}/{RESUME_FILE}')

    def after_train_epoch(self, runner):
        if not hasattr(runner.train_loop, 'dataloader_iterator'):  # epoch-based loop
            self._save_resume_point(runner, by_epoch=True)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        iteration_based = hasattr(runner.train_loop, 'dataloader_iterator')
        if iteration_based and self.every_n_train_iters(runner, self.every_n_iters):
            self._save_resume_point(runner, by_epoch=False)
        self._derive(runner, runner.iter + 1)


@contextlib.contextmanager
def work_dir_lock(work_dir: str, what: str) -> Iterator[None]:
    """Hold ``WORK_DIR/.fw.lock`` (an flock, released by the kernel if the process dies)."""
    import fcntl

    if os.environ.get('RANK', '0') != '0':
        yield
        return
    os.makedirs(work_dir, exist_ok=True)
    with open(Path(work_dir, '.fw.lock'), 'a+') as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or 'another process'
            raise FwError(
                f'work dir {work_dir} is in use by {holder}; wait for it to end or pass '
                f'another --work-dir'
            ) from None
        since = time.strftime('%Y-%m-%d %H:%M:%S')
        lock.truncate(0)
        lock.write(f'pid {os.getpid()} on {socket.gethostname()} ({what}, since {since})\n')
        lock.flush()
        try:
            yield
        finally:
            lock.truncate(0)


def interrupted(sig: signal.Signals, runner, cfg) -> Interrupted:
    """The error for a run stopped by ``sig``: where it stopped and what was saved."""
    from .checkpoint import latest_checkpoint, load_local, trusted

    loop, where, last = getattr(runner, '_train_loop', None), '', latest_checkpoint(cfg.work_dir)
    if hasattr(loop, 'dataloader_iterator'):  # built, iteration-based
        where = f' at iteration {loop.iter + 1}'
    elif hasattr(loop, 'epoch'):
        where = f' at epoch {loop.epoch + 1}, iteration {loop.iter + 1}'
    saved = 'nothing was saved yet (--resume starts from scratch)'
    if last is not None:
        with trusted(cfg.work_dir):
            meta = load_local(last, map_location='cpu').get('meta', {})
        saved = f'last checkpoint: {last} (epoch {meta.get("epoch")}, iteration {meta.get("iter")})'
    return Interrupted(f'stopped by {sig.name}{where}; {saved}', 128 + sig.value)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[list]:
    """SIGTERM raises KeyboardInterrupt like SIGINT; the list gets the signal's name."""
    caught: list = []

    def handler(signum, frame):
        caught.append(signal.Signals(signum))
        raise KeyboardInterrupt

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for s, h in old.items():
            signal.signal(s, h)
