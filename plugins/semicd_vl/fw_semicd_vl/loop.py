"""``SemiIterBasedTrainLoop``: iteration-based loop over three dataloaders (labeled, unlabeled,
mix), and the validation/test loops that resolve the data-root placeholders of the configs.

``train_dataloader=dict(labeled=..., unlabeled=..., mix=...)``; each is built by the Runner and
cycled independently; the model's ``train_step`` receives ``dict(labeled=b_x, unlabeled=b_u,
mix=b_o)``. Only ``labeled`` is required (supervised baseline). ``mix_source='same_order'``
(official) gives the mix loader the unlabeled sampler's seed, so o sees u's image order; its
augmentation is independent in every case: each loader's worker processes get their own seeds
(mmengine seeds worker w of rank r with base + w + r·num_workers; the bases are ``seed`` for
unlabeled, ``seed + 10000`` for mix and ``seed + 20000`` for labeled, so no two workers share
one), since workers seeded alike draw the same crops, jitter and CutMix box and make the mix batch
a copy of the unlabeled one.
Before every step the model gets ``set_progress(iter, max_iters)`` for the λ schedule.
"""

from __future__ import annotations

import copy

from mmengine.runner import IterBasedTrainLoop, TestLoop, ValLoop
from mmengine.runner.loops import calc_dynamic_intervals

from .roots import resolve_roots

KEYS = ('labeled', 'unlabeled', 'mix')
# offsets of each loader's sampler seed (mix: only with mix_source='independent') and worker seed
SAMPLER_OFFSET = dict(labeled=2, unlabeled=0, mix=0)
WORKER_OFFSET = dict(labeled=20_000, unlabeled=0, mix=10_000)


class _Cycle:
    """Endless iterator over a dataloader; a new epoch re-seeds its sampler (``set_epoch``),
    silently."""

    def __init__(self, loader):
        self.loader, self.epoch = loader, 0
        self.it = iter(loader)

    def __next__(self):
        try:
            return next(self.it)
        except StopIteration:
            self.epoch += 1
            sampler = getattr(self.loader, 'sampler', None)
            if hasattr(sampler, 'set_epoch'):
                sampler.set_epoch(self.epoch)
            self.it = iter(self.loader)
            return next(self.it)


class _ZipIterator:
    def __init__(self, loaders):
        self.iters = {k: _Cycle(v) for k, v in loaders.items()}

    def __iter__(self):
        return self

    def __next__(self):
        return {k: next(it) for k, it in self.iters.items()}


class SemiIterBasedTrainLoop(IterBasedTrainLoop):
    """mmengine's iteration loop over three dataloaders (labeled, unlabeled, mix), cycled
    independently; ``model.train_step`` gets ``dict(labeled=..., unlabeled=..., mix=...)``.

    Args:
        runner: the mmengine Runner.
        dataloader: ``dict(labeled=cfg, unlabeled=cfg, mix=cfg)``; only ``labeled`` is required.
        max_iters: iterations to train.
        val_begin, val_interval, dynamic_intervals: as in mmengine's ``IterBasedTrainLoop``.
        mix_source: ``'same_order'`` (the mix loader shares the unlabeled sampler's seed, so o
            sees u's image order with its own augmentation, as the official code) or
            ``'independent'``.
    """

    def __init__(
        self,
        runner,
        dataloader,
        max_iters,
        val_begin=1,
        val_interval=1000,
        dynamic_intervals=None,
        mix_source='same_order',
    ):
        if not (isinstance(dataloader, dict) and 'labeled' in dataloader):
            raise ValueError(
                'SemiIterBasedTrainLoop needs train_dataloader=dict(labeled=..., '
                'unlabeled=..., mix=...)'
            )
        if mix_source not in ('same_order', 'independent'):
            raise ValueError("mix_source must be 'same_order' or 'independent'")
        self._runner = runner
        seed = runner.seed
        loaders = {}
        for k in KEYS:
            cfg = dataloader.get(k)
            if cfg is None:
                continue
            if isinstance(cfg, dict):
                cfg = resolve_roots(copy.deepcopy(cfg), getattr(runner, 'cfg', None))
                sampler = cfg.setdefault('sampler', dict(type='DefaultSampler', shuffle=True))
                if isinstance(sampler, dict) and sampler.get('seed') is None:
                    sampler['seed'] = seed + SAMPLER_OFFSET[k]
                    if k == 'mix' and mix_source == 'independent':
                        sampler['seed'] += 1
                cfg = runner.build_dataloader(
                    cfg,
                    seed=seed + WORKER_OFFSET[k],
                    diff_rank_seed=runner._randomness_cfg.get('diff_rank_seed', False),
                )
            loaders[k] = cfg
        self.dataloaders = loaders
        self.dataloader = loaders.get('unlabeled', loaders['labeled'])
        self._max_iters = int(max_iters)
        self._max_epochs, self._epoch, self._iter = 1, 0, 0
        self.val_begin, self.val_interval = val_begin, val_interval
        self.stop_training = False
        self.runner.visualizer.dataset_meta = getattr(self.dataloader.dataset, 'metainfo', None)
        self.dataloader_iterator = _ZipIterator(loaders)
        self.dynamic_milestones, self.dynamic_intervals = calc_dynamic_intervals(
            self.val_interval, dynamic_intervals
        )

    def run_iter(self, data_batch):
        model = self.runner.model
        model = getattr(model, 'module', model)
        if hasattr(model, 'set_progress'):
            model.set_progress(self._iter, self._max_iters)
        super().run_iter(data_batch)


class CDValLoop(ValLoop):
    """mmengine's ``ValLoop`` whose dataloader config gets the config's data-root placeholders
    (``{data_root}``, ``{vl_label_root}``) filled in first (see ``fw_semicd_vl.roots``).

    Args: as mmengine's ``ValLoop`` (runner, dataloader, evaluator, fp16).
    """

    def __init__(self, runner, dataloader, evaluator, fp16=False):
        if isinstance(dataloader, dict):
            dataloader = resolve_roots(copy.deepcopy(dataloader), getattr(runner, 'cfg', None))
        super().__init__(runner, dataloader, evaluator, fp16)


class CDTestLoop(TestLoop):
    """mmengine's ``TestLoop`` with the data-root placeholders filled in, as :class:`CDValLoop`.

    Args: as mmengine's ``TestLoop`` (runner, dataloader, evaluator, fp16).
    """

    def __init__(self, runner, dataloader, evaluator, fp16=False):
        if isinstance(dataloader, dict):
            dataloader = resolve_roots(copy.deepcopy(dataloader), getattr(runner, 'cfg', None))
        super().__init__(runner, dataloader, evaluator, fp16)
