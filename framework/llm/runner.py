"""mmengine wrapper for causal LMs (train and evaluate a causal LM through the Runner): ``LMModel(BaseModel)``."""

from __future__ import annotations

import torch
from mmengine.model import BaseModel


def _stack(input_ids):
    if isinstance(input_ids, (list, tuple)):
        return torch.stack(list(input_ids))
    return input_ids


class LMModel(BaseModel):
    """Wraps a causal LM for mmengine's Runner.

    ``forward(input_ids, mode='loss')`` -> ``dict(loss=CE)`` (plus ``loss_kd`` when ``kd_weight`` > 0
    and a teacher is set); ``mode='predict'`` -> one dict per batch with ``nll_sum``/``count`` (for
    ``llm.Perplexity``); ``mode='tensor'`` -> logits. ``trainable``: parameter-name substrings that
    stay trainable (None = all). Subclasses override ``build_lm()``."""

    def __init__(
        self,
        lm=None,
        trainable=None,
        kd_weight: float = 0.0,
        num_threads: int | None = None,
        data_preprocessor=None,
        init_cfg=None,
    ):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if num_threads:
            torch.set_num_threads(num_threads)
        self.lm = lm if lm is not None else self.build_lm()
        self.kd_weight = kd_weight
        self.teacher = None  # set by subclasses when kd_weight > 0 (not a submodule: never saved)
        if trainable is not None:
            for name, p in self.lm.named_parameters():
                p.requires_grad_(any(s in name for s in trainable))

    def build_lm(self):
        raise NotImplementedError

    def init_weights(self):
        """No-op: the LM is pretrained (or converted). mmengine's Runner calls ``init_weights`` on
        the model, which would reach ``PreTrainedModel.init_weights`` and re-initialise every tensor
        that was not loaded by ``from_pretrained`` (all of them for a converted model)."""

    def forward(self, input_ids, data_samples=None, mode: str = 'loss'):
        ids = _stack(input_ids)
        if mode == 'loss':
            out = self.lm(input_ids=ids, labels=ids, use_cache=False)
            losses = dict(loss=out.loss)
            if self.kd_weight > 0 and self.teacher is not None:
                with torch.no_grad():
                    t = self.teacher(input_ids=ids, use_cache=False).logits
                lt = torch.log_softmax(t.float(), -1)
                ls = torch.log_softmax(out.logits.float(), -1)
                losses['loss_kd'] = self.kd_weight * (lt.exp() * (lt - ls)).sum(-1).mean()
            return losses
        if mode == 'predict':
            from framework.llm.evaluate import window_nll

            s, n = window_nll(self.lm, ids)
            return [dict(nll_sum=s, count=n)]
        return self.lm(input_ids=ids, use_cache=False).logits
