"""Lite-LLM4Rec (paper Sec. 3): Item LLM (or its cache) -> Recommendation LLM -> projection head.

Inference: item ids -> cached vectors -> one RecLLM pass -> one d x (n+1) matmul -> top-K.
No beam search and no item tokens at recommendation time.
"""

from __future__ import annotations

import torch
from mmengine.model import BaseModel

from framework import BACKBONES, CACHES, HEADS, LOSSES

from .data import load_sequence_data


def score_outputs(scores: torch.Tensor) -> list[dict]:
    """One dict per user, as the evaluator expects (``RankingMetric`` reads ``scores``)."""
    return [dict(scores=row) for row in scores.detach().float().cpu()]


class LiteLLM4Rec(BaseModel):
    """The hierarchical recommender: ItemLLM + RecLLM + ItemProjectionHead + FullSoftmaxCE.

    Args:
        data (dict): the ``data`` config (catalogue, item text template, ``max_len`` = N).
        item_llm (dict): ItemLLM config; ``train: frozen`` encodes every item once into the cache,
            ``finetune`` encodes the batch's unique items with gradients (and refreshes E_txt
            before the next evaluation).
        rec_llm (dict): RecLLM config (``item_dim`` and ``max_len`` are filled in).
        head (dict): ItemProjectionHead config (``in_dim``, ``n_items`` filled in).
        loss (dict): FullSoftmaxCE config.
        cache (dict): ItemVectorCache config (CACHES).
        data_preprocessor (dict | None): mmengine data preprocessor.

    ``forward(inputs, targets|target, mode)``: ``loss`` -> {'loss'}; ``predict`` -> one dict
    with ``scores`` [n+1] per user; ``tensor`` -> [B, n+1] scores.
    """

    def __init__(
        self,
        data,
        item_llm,
        rec_llm,
        head,
        loss,
        cache=dict(type='lite_llm4rec.ItemVectorCache'),
        data_preprocessor=None,
    ):
        super().__init__(data_preprocessor=data_preprocessor)
        seqs = load_sequence_data(**data)
        self.n_items, self.max_len = seqs.n_items, int(data.get('max_len', 50))
        self.texts = seqs.item_texts()
        llm = BACKBONES.build(item_llm)
        self.cache = CACHES.build(cache)
        self.register_buffer('item_vectors', self.cache.get(llm, self.texts), persistent=False)
        self.finetune = llm.mode == 'finetune'
        if self.finetune:
            self.item_llm = llm
        else:
            self.frozen_item_llm = [llm]  # kept out of the module tree: no optimiser, no ckpt
        self._stale = self.finetune  # a fine-tuned ItemLLM's vectors are refreshed before eval
        self.rec_llm = BACKBONES.build(dict(rec_llm, item_dim=llm.dim, max_len=self.max_len))
        self.head = HEADS.build(dict(head, in_dim=self.rec_llm.dim, n_items=self.n_items))
        self.loss_fn = LOSSES.build(loss)

    def train_item_vectors(self, items: torch.Tensor) -> torch.Tensor:
        """E_txt with the rows of ``items`` re-encoded with gradients (fine-tuning only)."""
        vectors = self.item_vectors.clone()
        if not self.finetune:
            return vectors
        uniq = torch.unique(items[items > 0])
        encoded = self.item_llm.encode([self.texts[i - 1] for i in uniq.tolist()])
        self._stale = True
        return vectors.index_put((uniq,), encoded.to(vectors.dtype))

    def refresh_item_vectors(self) -> None:
        """Rebuild E_txt from the (fine-tuned) ItemLLM after training."""
        if self.finetune and self._stale:
            self.item_vectors = self.cache.build(self.item_llm, self.texts).to(
                self.item_vectors.device
            )
            self._stale = False

    def user_vectors(self, inputs: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        return self.rec_llm.read(self.rec_llm(vectors, inputs), inputs)

    def scores(self, hidden: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        matrix = self.rec_llm.adapter(vectors) if self.head.mode == 'tied' else None
        return self.head(hidden, matrix)

    def forward(self, inputs, targets=None, target=None, seen=None, mode='tensor'):
        if mode == 'loss':
            vectors = self.train_item_vectors(inputs)
            hidden = self.rec_llm(vectors, inputs)
            if self.rec_llm.readout == 'last' and self.rec_llm.causal:
                keep = targets > 0  # score only the positions that have a target
                return {'loss': self.loss_fn(self.scores(hidden[keep], vectors), targets[keep])}
            user = self.rec_llm.read(hidden, inputs)
            return {'loss': self.loss_fn(self.scores(user, vectors), targets[:, -1])}
        self.refresh_item_vectors()
        scores = self.scores(self.user_vectors(inputs, self.item_vectors), self.item_vectors)
        return score_outputs(scores) if mode == 'predict' else scores

    @torch.inference_mode()
    def recommend(self, inputs: torch.Tensor, k: int = 20) -> torch.Tensor:
        """Top-k item ids [B, k] for histories ``inputs`` [B, N] (the benchmarked path)."""
        scores = self.scores(self.user_vectors(inputs, self.item_vectors), self.item_vectors)
        return scores.topk(k, dim=-1).indices
