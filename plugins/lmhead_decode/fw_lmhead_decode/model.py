"""The second checkpoint for the agreement statistic: a short fine-tune of the same model on a
different text (the paper compares Llama 3.1 8B with its Instruct fine-tune, Sec. 4; here
SmolLM2-135M-Instruct is fine-tuned on Python standard-library source for a few steps).

``lmhead_decode.FineTuneLM`` wraps the causal LM for mmengine's Runner (all parameters trainable,
the tied LM head included); ``lmhead_decode.SaveFineTunedHook`` writes the fine-tuned model as a
plain Hugging Face directory that ``fw lmhead_decode atlas`` / ``compare`` read."""

from __future__ import annotations

from pathlib import Path

import torch
from mmengine.hooks import Hook

from framework.llm.runner import LMModel

from .decode import DTYPES


class FineTuneLM(LMModel):
    """``lmhead_decode.FineTuneLM``: a pretrained causal LM trained with next-token cross-entropy.

    Args:
        model: HF directory, ``.gguf`` file or ``smollm2`` (loaded offline).
        dtype: ``float32`` (CPU default) or ``bfloat16``.
        trainable: parameter-name substrings left trainable (None = all parameters).
        num_threads: torch threads (None = torch's default).
        data_preprocessor: mmengine data preprocessor config (None = the default one).
        init_cfg: mmengine init config (unused: the model is pretrained).
    """

    def __init__(
        self,
        model: str = 'smollm2',
        dtype: str = 'float32',
        trainable=None,
        num_threads: int | None = None,
        data_preprocessor=None,
        init_cfg=None,
    ):
        self.source, self.load_dtype = model, DTYPES[dtype]
        super().__init__(
            lm=None,
            trainable=trainable,
            num_threads=num_threads,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg,
        )

    def build_lm(self):
        from framework.llm.models import load_causal_lm, load_tokenizer

        lm = load_causal_lm(self.source, dtype=self.load_dtype)
        self.tokenizer = load_tokenizer(self.source)
        lm.config.use_cache = False
        return lm.train()


class SaveFineTunedHook(Hook):
    """``lmhead_decode.SaveFineTunedHook``: save ``runner.model.lm`` as an HF directory.

    Args:
        subdir: folder under the work dir for the final model (``finetuned``).
        at_iters: also save ``<subdir>_iter<n>`` after these iterations (e.g. ``[25]``).
    """

    priority = 'LOWEST'

    def __init__(self, subdir: str = 'finetuned', at_iters=()):
        self.subdir = subdir
        self.at_iters = {int(n) for n in at_iters}

    def _save(self, runner, out: Path):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        model.lm.config.use_cache = True
        model.lm.save_pretrained(str(out))
        model.lm.config.use_cache = False
        if getattr(model, 'tokenizer', None) is not None:
            model.tokenizer.save_pretrained(str(out))
        runner.logger.info(f'saved the fine-tuned model to {out}')

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        n = runner.iter + 1
        if n in self.at_iters:
            self._save(runner, Path(runner.work_dir) / f'{self.subdir}_iter{n}')

    def after_train(self, runner):
        self._save(runner, Path(runner.work_dir) / self.subdir)


def loss_on(lm, windows: torch.Tensor) -> float:
    """Mean next-token cross-entropy of ``lm`` on (N, L) windows (for before/after checks)."""
    with torch.no_grad():
        return float(lm(input_ids=windows, labels=windows, use_cache=False).loss)
