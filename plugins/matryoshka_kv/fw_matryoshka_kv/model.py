"""``matryoshka_kv.MatryoshkaKVModel`` (mmengine BaseModel): base causal LM (frozen) + per-layer
KV projections, Matryoshka distillation training (paper Sec. 3.3) and low-rank evaluation; plus
projection files, rank specifications and ``matryoshka_kv.SaveProjectionHook``.

Only the projections (``X_K, X_V, mu_K, mu_V`` and the ranks) are submodules, so checkpoints and
the optimizer see nothing else; the base LM is re-loaded from its source.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel

from framework import LOSSES, FwError

from .attention import head_dims, install_projections, set_mode, set_ranks

DTYPES = {
    'float32': torch.float32,
    'float64': torch.float64,
    'bfloat16': torch.bfloat16,
    'float16': torch.float16,
}


# -- ranks --------------------------------------------------------------------------------------
def parse_ranks(spec, L: int, g: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``'full'``, ``'uniform:R'`` or a JSON file with ``R_K`` and ``R_V`` (L x g) -> (R_K, R_V)."""
    if spec in (None, 'full'):
        full = torch.full((L, g), d, dtype=torch.long)
        return full, full.clone()
    spec = str(spec)
    if spec.startswith('uniform:'):
        try:
            r = int(spec.split(':', 1)[1])
        except ValueError:
            raise FwError(
                f"ranks '{spec}': expected uniform:R with an integer R in [1, {d}]"
            ) from None
        if not 1 <= r <= d:
            raise FwError(f"ranks '{spec}': R must lie in [1, {d}] (head_dim {d})")
        full = torch.full((L, g), r, dtype=torch.long)
        return full, full.clone()
    path = Path(spec)
    if not path.is_file():
        raise FwError(
            f"ranks '{spec}': not 'full', not 'uniform:R' and not a file; give a JSON "
            f'file written by `fw matryoshka_kv search`'
        )
    data = json.loads(path.read_text())
    try:
        R_K = torch.tensor(data['R_K'], dtype=torch.long)
        R_V = torch.tensor(data['R_V'], dtype=torch.long)
    except KeyError as e:
        raise FwError(f'{path}: missing key {e}; expected R_K and R_V, each {L} x {g}') from None
    for name, R in (('R_K', R_K), ('R_V', R_V)):
        if tuple(R.shape) != (L, g) or int(R.min()) < 1 or int(R.max()) > d:
            raise FwError(
                f'{path}: {name} must be {L} x {g} with values in [1, {d}], '
                f'got shape {tuple(R.shape)}'
            )
    return R_K, R_V


def sample_ranks(L: int, g: int, d: int, delta: int, generator=None) -> tuple[torch.Tensor, ...]:
    """Matryoshka training ranks: i.i.d. uniform on {delta, 2 delta, ..., d} per (layer, head), K,
    V independent (paper Sec. 3.3)."""
    steps = torch.randint(1, d // delta + 1, (2, L, g), generator=generator)
    return steps[0] * delta, steps[1] * delta


# -- projection files ---------------------------------------------------------------------------
def save_projection(path, projections, meta: dict) -> Path:
    """Write ``{'state_dict': {'projections.<l>.X_K': ...}, 'meta': meta}`` (tensors only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {f'projections.{k}': v.detach().cpu() for k, v in projections.state_dict().items()}
    torch.save({'state_dict': sd, 'meta': meta}, path)
    return path


def load_projection(path, projections) -> dict:
    """Load a file of :func:`save_projection` into ``projections``; returns its meta. An mmengine
    checkpoint of this model (``iter_N.pth``) loads too where fw trusts it (``fw test``,
    ``checkpoint=`` in a config); elsewhere use the ``projection*.pth`` files of the run."""
    from framework import load_checkpoint

    ckpt = load_checkpoint(str(path), map_location='cpu')
    sd = ckpt.get('state_dict', ckpt)
    own = {k[len('projections.') :]: v for k, v in sd.items() if k.startswith('projections.')}
    want = projections.state_dict()
    if set(own) != set(want):
        raise FwError(
            f'{path}: not a MatryoshkaKV projection file for this model (expected keys '
            f'projections.<layer>.X_K ... for {len(projections)} layers)'
        )
    for k, v in own.items():
        if v.shape != want[k].shape:
            raise FwError(
                f'{path}: {k} has shape {tuple(v.shape)}, the model needs '
                f'{tuple(want[k].shape)} (projection file of another base model?)'
            )
    projections.load_state_dict(own)
    return ckpt.get('meta', {})


class MatryoshkaKVModel(BaseModel):
    """Frozen causal LM with MatryoshkaKV attention, trained by Matryoshka distillation.

    Args:
        model: local HF directory, ``.gguf`` or ``'smollm2'``.
        checkpoint: projection file (``pca-init`` output, ``projection.pth`` of a run) or None.
        init: ``'pca'`` (calibrate at ``init_weights``, i.e. when training starts) or
            ``'identity'`` (U = I, mu = 0).
        calib: ``dict(windows=32, length=256, text=None, batch_size=4)``; ``text`` = local
            file(s) for real-scale runs, None = the pydoc train split.
        delta: rank grid step (default head_dim / 8).
        fixed_rank: train at this rank for every slot (ablation) instead of sampling.
        eval_ranks: ``'full'``, ``'uniform:R'`` or a ranks JSON, used by ``mode='predict'``.
        loss: config of the distillation loss (``matryoshka_kv.DistillCE``).
        dtype, attn_implementation: of the base LM (projections stay float32).
        gradient_checkpointing: HF gradient checkpointing of the base (real scale).
        num_threads: torch threads (CPU).
        data_preprocessor, init_cfg: passed to mmengine's ``BaseModel``.
    """

    def __init__(
        self,
        model: str = 'smollm2',
        checkpoint: str | None = None,
        init: str = 'pca',
        calib: dict | None = None,
        delta: int | None = None,
        fixed_rank: int | None = None,
        eval_ranks: str = 'full',
        loss: dict | None = None,
        dtype: str = 'float32',
        attn_implementation: str = 'sdpa',
        gradient_checkpointing: bool = False,
        num_threads: int | None = None,
        data_preprocessor=None,
        init_cfg=None,
    ):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        from framework.llm.models import load_causal_lm

        if num_threads:
            torch.set_num_threads(num_threads)
        if init not in ('pca', 'identity'):
            raise FwError(f"MatryoshkaKVModel init={init!r}: choose 'pca' or 'identity'")
        if dtype not in DTYPES:
            raise FwError(f'MatryoshkaKVModel dtype={dtype!r}: choose one of {", ".join(DTYPES)}')
        self.base_path, self.init, self.checkpoint = str(model), init, checkpoint
        self.calib = dict(dict(windows=32, length=256, text=None, batch_size=4), **(calib or {}))
        lm = load_causal_lm(model, DTYPES[dtype], attn_implementation).requires_grad_(False)
        if gradient_checkpointing:
            lm.gradient_checkpointing_enable()
        object.__setattr__(self, 'lm', lm)  # not a submodule: never saved, never optimised
        self.projections = install_projections(lm)
        self.h, self.g, self.d = head_dims(lm.config)
        self.L = lm.config.num_hidden_layers
        self.delta = delta or self.d // 8
        if self.d % self.delta:
            raise FwError(f'delta={self.delta} must divide head_dim {self.d}')
        self.fixed_rank = fixed_rank
        self.eval_ranks = eval_ranks
        self.loss_fn = LOSSES.build(loss or dict(type='matryoshka_kv.DistillCE'))
        self._initialised = False
        if checkpoint:
            load_projection(checkpoint, self.projections)
            self._initialised = True

    # -- module plumbing: the hidden LM follows .to()/.train() ----------------------------------
    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        self.lm._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        self.lm.train(mode)
        return self

    def meta(self) -> dict:
        return dict(
            base=self.base_path, layers=self.L, kv_heads=self.g, head_dim=self.d, delta=self.delta
        )

    # -- initialisation ---------------------------------------------------------------------------
    def calibration_windows(self) -> torch.Tensor:
        from framework.llm.data import encode, local_text, pydoc_text, token_windows
        from framework.llm.models import load_tokenizer

        c = self.calib
        text = local_text(c['text']) if c.get('text') else pydoc_text('train')
        return token_windows(
            encode(load_tokenizer(self.base_path), text), c['length'], c['windows']
        )

    def pca_init(self, log=None) -> dict:
        """Calibrate on ``calib`` windows and set U, mu from the PCA; returns the eigenvalues."""
        from .pca import calibrate, init_from_pca

        stats = calibrate(self.lm, self.calibration_windows(), self.calib['batch_size'], log=log)
        self._initialised = True
        return init_from_pca(self.lm, stats)

    def init_weights(self):
        """Called by the Runner when training starts (not by ``fw test``): PCA initialisation
        unless a projection checkpoint was given. The base LM is never re-initialised."""
        if not self._initialised and self.init == 'pca':
            self.pca_init()

    # -- forward ----------------------------------------------------------------------------------
    def sample_ranks(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.fixed_rank:
            full = torch.full((self.L, self.g), self.fixed_rank, dtype=torch.long)
            return full, full.clone()
        return sample_ranks(self.L, self.g, self.d, self.delta)

    def forward(self, input_ids, data_samples=None, mode: str = 'loss'):
        ids = torch.stack(list(input_ids)) if isinstance(input_ids, (list, tuple)) else input_ids
        ids = ids.to(self.lm.get_input_embeddings().weight.device)
        if mode == 'loss':
            set_mode(self.lm, 'off')  # teacher = exactly the base model
            with torch.no_grad():
                teacher = self.lm(input_ids=ids, use_cache=False).logits
            set_ranks(self.lm, *self.sample_ranks())
            set_mode(self.lm, 'mask')
            student = self.lm(input_ids=ids, use_cache=False).logits
            return self.loss_fn(student, teacher, ids)
        if mode == 'predict':
            return [self.evaluate_batch(ids, self.eval_ranks)]
        return self.lm(input_ids=ids, use_cache=False).logits

    @torch.no_grad()
    def evaluate_batch(self, ids: torch.Tensor, ranks) -> dict:
        """Held-out NLL through the low-rank cache at ``ranks``, with the live cache bytes."""
        from .cache import LowRankKVCache

        set_ranks(self.lm, *parse_ranks(ranks, self.L, self.g, self.d))
        set_mode(self.lm, 'truncate')
        cache = LowRankKVCache.for_model(self.lm)
        logits = self.lm(input_ids=ids, cache=cache, use_cache=True).logits
        lp = torch.log_softmax(logits[:, :-1].double(), -1)
        nll = -lp.gather(-1, ids[:, 1:, None]).sum()
        return dict(
            nll_sum=float(nll),
            count=ids[:, 1:].numel(),
            cache_bytes_per_token=cache.bytes_per_token(),
        )


class SaveProjectionHook(Hook):
    """Write the projections as a tensors-only file that ``fw matryoshka_kv eval/search
    --checkpoint`` and ``checkpoint=`` in configs accept: ``work_dir/<filename>`` after training
    and, with ``interval``, ``work_dir/projection_iter_<n>.pth`` every ``interval`` iterations.

    Args: filename (``projection.pth``), interval (None = only at the end)."""

    priority = 'LOWEST'

    def __init__(self, filename: str = 'projection.pth', interval: int | None = None):
        self.filename, self.interval = filename, interval

    @staticmethod
    def _save(runner, name):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        out = save_projection(Path(runner.work_dir) / name, model.projections, model.meta())
        runner.logger.info(f'saved the projections to {out}')

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.interval and self.every_n_train_iters(runner, self.interval):
            self._save(runner, f'projection_iter_{runner.iter + 1}.pth')

    def after_train(self, runner):
        self._save(runner, self.filename)
