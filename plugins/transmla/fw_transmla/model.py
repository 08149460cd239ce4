"""``transmla.TransMLAModel`` (mmengine BaseModel: base LM + stages + ranks -> converted model, for
stage E fine-tuning) and ``transmla.SaveConvertedHook``."""

from __future__ import annotations

from pathlib import Path

import torch
from mmengine.hooks import Hook

from framework.llm.runner import LMModel

from .convert import ATTENTION_PARAMS, is_converted

_DTYPES = {
    'float32': torch.float32,
    'float64': torch.float64,
    'bfloat16': torch.bfloat16,
    'float16': torch.float16,
}


def build_converted(
    model: str = 'smollm2',
    exact: bool = False,
    kv_rank: int | None = None,
    rope_dim: int | None = None,
    freqfold='auto',
    rotation: str = 'rorope',
    balance_kv: bool = True,
    balance_kv_ratio: float = 1.0,
    calib_windows: int = 32,
    calib_len: int = 256,
    calib_text: str | None = None,
    dtype: str = 'float32',
    attn_implementation: str = 'sdpa',
    log=print,
):
    """Load ``model`` and convert it: ``exact`` -> stage A; ``kv_rank`` -> stages A-D; neither ->
    the unconverted model (control runs). A converted directory loads as it is. Returns
    (lm, tokenizer, info dict)."""
    from .calibrate import calibration_windows
    from .convert import convert_exact, convert_with_search, load_any

    dt = _DTYPES[dtype] if isinstance(dtype, str) else dtype
    lm, tok = load_any(model, dt, attn_implementation)
    if is_converted(model) or not (exact or kv_rank):
        return lm, tok, dict(getattr(lm.config, 'transmla', {}) or {})
    if exact:
        return convert_exact(lm), tok, dict(stage='a')
    calib = calibration_windows(tok, calib_windows, calib_len, calib_text)
    lm, info = convert_with_search(
        lm,
        calib,
        kv_rank=kv_rank,
        rope_dim=rope_dim,
        freqfold=freqfold,
        rotation=rotation,
        balance_kv=balance_kv,
        balance_kv_ratio=balance_kv_ratio,
        log=log,
    )
    return lm, tok, info


class TransMLAModel(LMModel):
    """Converted causal LM for fine-tuning (stage E of the paper).

    Args:
        train: ``'all'`` (the paper's default) or ``'attention'`` (q_proj, kv_a, k_rope, w_uk,
            w_uv, o_proj only).
        kd_weight: weight of a distillation term towards the unconverted model (0: none).
        num_threads: torch threads for the run (None: torch's default).
        data_preprocessor, init_cfg: mmengine ``BaseModel`` arguments.
        **convert_kwargs: go to :func:`build_converted` (``model``, ``kv_rank``, ``rope_dim``,
            ``freqfold``, ``exact``, ``calib_windows``, ...).
    """

    def __init__(
        self,
        train: str = 'all',
        kd_weight: float = 0.0,
        num_threads: int | None = None,
        data_preprocessor=None,
        init_cfg=None,
        **convert_kwargs,
    ):
        self.convert_kwargs = convert_kwargs
        trainable = None if train == 'all' else ATTENTION_PARAMS
        super().__init__(
            lm=None,
            trainable=trainable,
            kd_weight=kd_weight,
            num_threads=num_threads,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg,
        )
        if kd_weight > 0:
            from .convert import load_any

            teacher, _ = load_any(convert_kwargs.get('model', 'smollm2'))
            object.__setattr__(self, 'teacher', teacher.eval().requires_grad_(False))

    def build_lm(self):
        lm, tok, info = build_converted(**self.convert_kwargs)
        self.tokenizer = tok
        self.info = info
        lm.config.use_cache = False
        return lm.train()


class SaveConvertedHook(Hook):
    """After training, save ``runner.model.lm`` to ``work_dir/<subdir>``: a converted directory
    (``fw transmla eval`` loads it) or, for control runs, a plain HF directory.

    Args:
        subdir: folder under the work dir (``'converted'``).
    """

    priority = 'LOWEST'

    def __init__(self, subdir: str = 'converted'):
        self.subdir = subdir

    def after_train(self, runner):
        from .convert import save_converted

        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        out = Path(runner.work_dir) / self.subdir
        lm = model.lm
        lm.config.use_cache = True
        if getattr(lm.config, 'transmla', None):
            save_converted(lm, out, getattr(model, 'tokenizer', None))
        else:
            lm.save_pretrained(str(out))
            if getattr(model, 'tokenizer', None) is not None:
                model.tokenizer.save_pretrained(str(out))
        runner.logger.info(f'saved the fine-tuned model to {out}')
