"""What a run prints: quiet by default, a progress line with ETA, a summary table at the end.

mmengine's logger keeps writing everything (environment, config dump, hook order, per-interval
lines) to the run's log file. On the terminal, unless ``-v``, only warnings a user can act on pass;
:class:`ProgressHook` prints one short line per log interval (a bar redrawn in place where stderr
is a terminal) and :func:`summary` the table after training.
"""

from __future__ import annotations

import datetime
import logging
import re
import shutil
import sys
import time
from pathlib import Path

from mmengine.hooks import Hook

#: mmengine/OpenMMLab warnings about their own internals: log file only
NOISE = re.compile(
    'Failed to import|deprecated|is the alias of|Advance dataloader|SyncBatchNorm|is not set in'
    '|Please use'
)


def actionable(record: logging.LogRecord) -> bool:
    """A warning or error that is not mmengine/OpenMMLab talking about its own internals."""
    return record.levelno >= logging.WARNING and not NOISE.search(str(record.getMessage()))


def quiet(logger):
    """Terminal handlers of ``logger`` (an MMLogger) and of every other MMLogger show only
    actionable warnings; Python warnings go to its log file."""
    from mmengine.logging import MMLogger

    files = [h for h in logger.handlers if isinstance(h, logging.FileHandler)]
    for handler in [h for lg in MMLogger._instance_dict.values() for h in lg.handlers]:
        if not isinstance(handler, logging.FileHandler) and actionable not in handler.filters:
            handler.addFilter(actionable)
    logging.captureWarnings(True)
    py_warnings = logging.getLogger('py.warnings')
    py_warnings.handlers, py_warnings.propagate = files, False
    return logger


def _eta(seconds) -> str:
    return str(datetime.timedelta(seconds=int(seconds or 0)))


class ProgressHook(Hook):
    """One line per log interval (``epoch 2/30  iter 8/120  loss 0.0123  lr 1.0e-03  eta
    0:00:41``); validation metrics after each validation; wall time for the summary."""

    priority = 'BELOW_NORMAL'

    def __init__(self, interval: int = 10, stream=None):
        self.interval, self.stream = interval, stream or sys.stderr
        self.bar = self.stream.isatty()
        self.started = time.time()
        self.val_metrics: dict = {}

    def _echo(self, text: str, final: bool = True) -> None:
        width = shutil.get_terminal_size((100, 24)).columns - 1
        if self.bar:
            self.stream.write('\r' + text[:width].ljust(width) + ('\n' if final else ''))
        else:
            self.stream.write(text[: max(width, 60)] + '\n')
        self.stream.flush()

    def before_train(self, runner):
        if runner._resume and runner._has_loaded:
            self._echo(
                f'resumed from {runner._load_from}: epoch {runner.epoch}, iteration {runner.iter}'
            )

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        loop = runner.train_loop
        last_in_epoch = (
            hasattr(loop, 'max_epochs')
            and not hasattr(loop, 'dataloader_iterator')
            and batch_idx + 1 == len(loop.dataloader)
        )
        if not (self.bar or self.every_n_train_iters(runner, self.interval) or last_in_epoch):
            return
        hub = runner.message_hub
        where = f'iter {runner.iter + 1}/{runner.max_iters}'
        if not hasattr(loop, 'dataloader_iterator'):
            where = f'epoch {runner.epoch + 1}/{runner.max_epochs}  ' + where
        parts = [where]
        for key in ('loss', 'lr'):
            if f'train/{key}' in hub.log_scalars:
                value = hub.get_scalar(f'train/{key}').mean(self.interval)
                parts.append(f'{key} {value:.4g}' if key == 'loss' else f'{key} {value:.1e}')
        parts.append(f'eta {_eta(hub.get_info("eta"))}')
        if self.bar:
            done = (runner.iter + 1) / max(runner.max_iters, 1)
            parts.insert(1, '[' + '#' * int(20 * done) + '.' * (20 - int(20 * done)) + ']')
        self._echo('  '.join(parts), final=not self.bar or last_in_epoch)

    def after_val_epoch(self, runner, metrics=None):
        self.val_metrics = dict(metrics or {})
        shown = '  '.join(
            f'{k} {v:.4g}' for k, v in self.val_metrics.items() if isinstance(v, (int, float))
        )
        self._echo(f'val  {shown}' if shown else 'val  (no metrics)')


def summary(runner, progress: ProgressHook | None) -> list[str]:
    """The end-of-training table: final metrics, checkpoints, wall time, paths."""
    work = Path(runner.work_dir)
    metrics = progress.val_metrics if progress else {}
    rows = [(k, f'{v:.4g}' if isinstance(v, float) else str(v)) for k, v in metrics.items()]
    table = [(k, v) for k, v in rows if k.count('/') == 2]
    rows = [(k, v) for k, v in rows if k.count('/') != 2]
    best = [h for h in runner.hooks if type(h).__name__ == 'CheckpointHook']
    best_path = getattr(best[0], 'best_ckpt_path', None) if best else None
    best_paths = getattr(best[0], 'best_ckpt_path_dict', None) if best else None
    if best_paths:
        best_path = ', '.join(best_paths.values())
    pointer = work / 'last_checkpoint'
    last = pointer.read_text().strip() if pointer.is_file() else '(none saved)'
    log = Path(runner.log_dir, f'{runner.timestamp}.log')
    wall = time.time() - (progress.started if progress else time.time())
    try:  # the loss / metric curves as a PNG beside the logs (what `fw report` writes)
        from .report import report

        plots = report(str(work))['png']
    except Exception as exc:  # noqa: BLE001 - a missing plot must not fail a finished run
        plots = f'fw report {work}  (not written here: {type(exc).__name__})'
    rows += [
        ('best checkpoint', best_path or '(the config sets no save_best)'),
        ('last checkpoint', last),
        ('wall time', _eta(wall)),
        ('work dir', str(work)),
        ('log', str(log)),
        ('scalars', str(Path(runner.log_dir, 'vis_data', 'scalars.json'))),
        ('plots', plots),
    ]
    width = max(len(k) for k, _ in rows)
    head = f'training done: {runner.iter} iterations'
    if hasattr(runner.train_loop, 'max_epochs') and not hasattr(
        runner.train_loop, 'dataloader_iterator'
    ):
        head += f', {runner.epoch} epochs'
    return [head] + _grid(table) + [f'  {k:<{width}}  {v}' for k, v in rows]


def _grid(items: list[tuple[str, str]]) -> list[str]:
    """Metrics named ``<group>/<row>/<column>`` (e.g. ``reference/raw_pixels/knn``) as a table."""
    if not items:
        return []
    cells, columns = {}, []
    for key, value in items:
        group, row, column = key.split('/')
        cells.setdefault((group, row), {})[column] = value
        columns += [column] if column not in columns else []
    width = max(len(f'{g}/{r}') for g, r in cells)
    lines = ['  ' + ' ' * width + ''.join(f'  {c:>9}' for c in columns)]
    for (group, row), values in cells.items():
        shown = ''.join(f'  {values.get(c, ""):>9}' for c in columns)
        lines.append(f'  {group + "/" + row:<{width}}{shown}')
    return lines
