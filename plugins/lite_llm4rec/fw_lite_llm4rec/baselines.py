"""ID-based and non-learned baselines: SASRec (full-softmax CE), PopRec and RandomRec.

They share the data, the evaluator and the benchmark with Lite-LLM4Rec.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from mmengine.model import BaseModel

from framework import LOSSES

from .backbone import TransformerStack, attention_mask
from .data import load_sequence_data
from .model import score_outputs


class SASRec(BaseModel):
    """SASRec (Kang and McAuley, ICDM 2018) trained with full-softmax CE at every position.

    Args:
        data (dict): the ``data`` config (``max_len`` = N).
        hidden (int), layers (int), heads (int), dropout (float): d, L, h, p (64, 2, 2, 0.2).
        loss (dict): FullSoftmaxCE config.
        data_preprocessor (dict | None): mmengine data preprocessor.

    Input M[x] * sqrt(d) + P; the same causal pre-LN stack and final LayerNorm as RecLLM; tied
    scores s = h M^T with s_0 = -inf. M and P are initialised N(0, 0.02^2), padding_idx 0.
    """

    def __init__(
        self,
        data,
        hidden=64,
        layers=2,
        heads=2,
        dropout=0.2,
        loss=dict(type='lite_llm4rec.FullSoftmaxCE'),
        data_preprocessor=None,
    ):
        super().__init__(data_preprocessor=data_preprocessor)
        seqs = load_sequence_data(**data)
        self.n_items, self.max_len = seqs.n_items, int(data.get('max_len', 50))
        self.item_emb = nn.Embedding(self.n_items + 1, hidden, padding_idx=0)
        nn.init.normal_(self.item_emb.weight, std=0.02)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()
        self.position = nn.Parameter(torch.randn(self.max_len, hidden) * 0.02)
        self.drop = nn.Dropout(dropout)
        self.stack = TransformerStack(hidden, layers, heads, dropout)
        self.scale = math.sqrt(hidden)
        self.loss_fn = LOSSES.build(loss)

    def hidden(self, inputs: torch.Tensor) -> torch.Tensor:
        z = self.item_emb(inputs) * self.scale + self.position[-inputs.shape[1] :]
        return self.stack(self.drop(z), attention_mask(inputs > 0, causal=True))

    def scores(self, hidden: torch.Tensor) -> torch.Tensor:
        s = hidden @ self.item_emb.weight.T
        s[..., 0] = float('-inf')
        return s

    def forward(self, inputs, targets=None, target=None, seen=None, mode='tensor'):
        hidden = self.hidden(inputs)
        if mode == 'loss':
            keep = targets > 0  # score only the positions that have a target
            return {'loss': self.loss_fn(self.scores(hidden[keep]), targets[keep])}
        scores = self.scores(hidden[:, -1])
        return score_outputs(scores) if mode == 'predict' else scores

    @torch.inference_mode()
    def recommend(self, inputs: torch.Tensor, k: int = 20) -> torch.Tensor:
        return self.scores(self.hidden(inputs)[:, -1]).topk(k, dim=-1).indices


class _NonLearned(BaseModel):
    """Shared plumbing of the baselines without trainable weights."""

    def __init__(self, data, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.seqs = load_sequence_data(**data)
        self.n_items = self.seqs.n_items
        # one empty parameter so that an mmengine optimiser can be built (`fw train` works)
        self.unused = nn.Parameter(torch.zeros(0))

    def forward(self, inputs, targets=None, target=None, seen=None, mode='tensor'):
        if mode == 'loss':
            return {'loss': self.unused.sum()}
        scores = self.batch_scores(inputs)
        scores[:, 0] = float('-inf')
        return score_outputs(scores) if mode == 'predict' else scores


class PopRec(_NonLearned):
    """Scores every item by its interaction count in the train split (item 0 never counted).

    Args:
        data (dict): the ``data`` config.
        data_preprocessor (dict | None): mmengine data preprocessor.
    """

    def __init__(self, data, data_preprocessor=None):
        super().__init__(data, data_preprocessor)
        self.register_buffer(
            'counts',
            torch.as_tensor(self.seqs.train_counts(), dtype=torch.float32),
            persistent=False,
        )

    def batch_scores(self, inputs):
        return self.counts.expand(len(inputs), -1).clone()


class RandomRec(_NonLearned):
    """Seeded uniform random scores (chance level: Recall@K = K / n).

    Args:
        data (dict): the ``data`` config.
        seed (int): the generator's seed.
        data_preprocessor (dict | None): mmengine data preprocessor.
    """

    def __init__(self, data, seed=0, data_preprocessor=None):
        super().__init__(data, data_preprocessor)
        self.generator = torch.Generator().manual_seed(seed)

    def batch_scores(self, inputs):
        return torch.rand(len(inputs), self.n_items + 1, generator=self.generator)
