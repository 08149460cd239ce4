"""Checkpoint loading and saving rules that mmengine 0.10.7 does not give on torch >= 2.6.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``. mmengine 0.10.7 calls
``torch.load`` without the flag, and its own checkpoints pickle a ``HistoryBuffer``, NumPy arrays
and ``getattr`` (the message hub), so resume, ``load_from`` and ``fw test`` fail with an
``UnpicklingError`` (upstream: open-mmlab/mmengine#1655, fixed after 0.10.7).

fw's fix is explicit and narrow: it replaces mmengine's local-file loader with one that unpickles
fully (``weights_only=False``) only for files under a *trusted* path: the run's own work dir
(resume), and the files the user points at (``load_from``, ``fw test CHECKPOINT``, checkpoint
paths written in the config). Any other file is loaded with ``weights_only=True`` and, if it holds
pickled objects, refused with a message. ``weights_only=False`` runs code stored in the file: only
trust checkpoints you or your team produced, never downloaded ones.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from pathlib import Path
from typing import Iterator

from .errors import FwError

_TRUSTED: list[Path] = []
_installed = False


@contextlib.contextmanager
def trusted(*paths: str | os.PathLike | None) -> Iterator[None]:
    """Within the block, files at or under ``paths`` load with ``weights_only=False``."""
    added = [Path(p).expanduser().resolve() for p in paths if p]
    _TRUSTED.extend(added)
    try:
        yield
    finally:
        for p in added:
            _TRUSTED.remove(p)


def is_trusted(path: str | os.PathLike) -> bool:
    path = Path(path).expanduser().resolve()
    return any(path == root or root in path.parents for root in _TRUSTED)


def load_local(filename: str, map_location=None):
    """mmengine's local loader with fw's trust rule (registered for the empty URL prefix)."""
    import torch

    path = Path(filename).expanduser()
    if not path.is_file():
        raise FwError(
            f'checkpoint {filename} does not exist; check the path (load_from, '
            f'--resume work dir, or the CHECKPOINT argument)'
        )
    if path.stat().st_size == 0:
        raise FwError(
            f'checkpoint {filename} is empty (0 bytes), probably an interrupted copy; '
            f'use another checkpoint or copy it again'
        )
    try:
        return torch.load(path, map_location=map_location, weights_only=not is_trusted(path))
    except pickle.UnpicklingError as e:
        if 'Weights only load failed' not in str(e):
            why = str(e).splitlines()[0]
            raise FwError(
                f'checkpoint {filename} is not a readable PyTorch checkpoint ({why}); use another'
            ) from e
        raise FwError(
            f'{filename} holds pickled Python objects and is not a path you pointed fw at, so it '
            f'is not unpickled (that would run code stored in the file). If you trust it, pass '
            f'it explicitly (load_from=..., or as `fw test` CHECKPOINT)'
        ) from e
    except (EOFError, OSError, RuntimeError, ValueError) as e:
        why = f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else "truncated"}'
        raise FwError(
            f'checkpoint {filename} is not a readable PyTorch checkpoint ({why}); use another'
        ) from e


def check_keys(runner, checkpoint: dict, strict: bool = True) -> None:
    """Compare the checkpoint's weights with the model's: missing, unexpected and mis-shaped keys
    are an error (``strict``) or one warning line."""
    model = getattr(runner.model, 'module', runner.model)
    state = checkpoint.get('state_dict', checkpoint)
    state = {k.removeprefix('module.'): v for k, v in state.items()}
    own = model.state_dict()
    found = {
        'missing keys': [k for k in own if k not in state],
        'unexpected keys': [k for k in state if k not in own],
        'shape mismatches': [
            f'{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}'
            for k in own
            if k in state and hasattr(state[k], 'shape') and state[k].shape != own[k].shape
        ],
    }
    parts = [
        f'{what} ({len(keys)}): {", ".join(keys[:4])}{", ..." * (len(keys) > 4)}'
        for what, keys in found.items()
        if keys
    ]
    if not parts:
        return
    message = f'the checkpoint does not match the model {type(model).__name__}: {"; ".join(parts)}'
    if strict:
        raise FwError(
            f'{message}; is it a checkpoint of this config? (--no-strict loads the '
            f'matching keys only)'
        )
    runner.logger.warning(message)


def install() -> None:
    """Route mmengine's local checkpoint loading through :func:`load_local` (idempotent)."""
    global _installed
    if not _installed:
        from mmengine.runner.checkpoint import CheckpointLoader

        CheckpointLoader.register_scheme(prefixes='', loader=load_local, force=True)
        _installed = True


def latest_checkpoint(work_dir: str | os.PathLike) -> str | None:
    """The newest complete checkpoint in ``work_dir``.

    Prefers the file named in ``last_checkpoint``; falls back to the newest ``*.pth`` when that
    pointer is missing or stale (for example a run killed between the two writes).
    """
    work_dir = Path(work_dir)
    pointer = work_dir / 'last_checkpoint'
    if pointer.is_file():
        named = Path(pointer.read_text().strip())
        if named.is_file():
            return str(named)
    candidates = [p for p in work_dir.glob('*.pth') if not p.name.startswith(('.', 'best_'))]
    return str(max(candidates, key=lambda p: p.stat().st_mtime_ns)) if candidates else None


def atomic_replace(tmp_path: str, final_path: str) -> None:
    """Move a fully written file into place; readers never see a half-written checkpoint."""
    with open(tmp_path, 'rb') as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, final_path)
