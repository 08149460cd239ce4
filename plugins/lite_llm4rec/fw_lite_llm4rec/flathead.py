"""FlatHead: the ablation between GenRec and Lite-LLM4Rec.

GenRec's encoder reads the same flat history text, a masked-mean readout feeds an
ItemProjectionHead trained with full-softmax CE. Against GenRec it isolates the head (C1: head vs
beam search, same input); against Lite-LLM4Rec it isolates the hierarchy (C2: item vectors vs
concatenated item tokens, same head).
"""

from __future__ import annotations

import torch
from mmengine.model import BaseModel

from framework import HEADS, LOSSES

from .backbone import load_encoder, masked_mean
from .data import load_sequence_data
from .genrec import history_texts, item_token_sequences
from .model import score_outputs


class FlatHead(BaseModel):
    """Flat-text encoder + mean readout + ItemProjectionHead + FullSoftmaxCE.

    Args:
        data (dict): the ``data`` config.
        path (str | None): local HF encoder folder (None = packaged all-MiniLM-L6-v2).
        layers (int): keep the first L encoder layers (GenRec's ``layers``).
        history_items (int): N_g items in ``"History: s_1; ...; s_Ng. Next:"``.
        max_source_tokens (int): left-truncate the source to this many tokens.
        head (dict): ItemProjectionHead config (``in_dim``, ``n_items`` filled in).
        loss (dict): FullSoftmaxCE config.
        data_preprocessor (dict | None): mmengine data preprocessor.
    """

    def __init__(
        self,
        data,
        path=None,
        layers=2,
        history_items=5,
        max_source_tokens=256,
        head=dict(type='lite_llm4rec.ItemProjectionHead'),
        loss=dict(type='lite_llm4rec.FullSoftmaxCE'),
        data_preprocessor=None,
    ):
        super().__init__(data_preprocessor=data_preprocessor)
        self.seqs = load_sequence_data(**data)
        self.tokenizer, self.encoder = load_encoder(path, layers)
        self.tokenizer.truncation_side = 'left'
        _, self.item_strings = item_token_sequences(self.seqs, self.tokenizer)
        self.history_items, self.max_source_tokens = history_items, max_source_tokens
        self.head = HEADS.build(
            dict(head, in_dim=self.encoder.config.hidden_size, n_items=self.seqs.n_items)
        )
        self.loss_fn = LOSSES.build(loss)

    def source_texts(self, inputs: torch.Tensor) -> list[str]:
        return history_texts(self.item_strings, inputs, self.history_items)

    def user_vectors(self, inputs: torch.Tensor) -> torch.Tensor:
        enc = self.tokenizer(
            self.source_texts(inputs),
            padding=True,
            truncation=True,
            max_length=self.max_source_tokens,
            return_tensors='pt',
        )
        enc = {k: v.to(inputs.device) for k, v in enc.items()}
        return masked_mean(self.encoder(**enc).last_hidden_state, enc['attention_mask'])

    def forward(self, inputs, targets=None, target=None, seen=None, mode='tensor'):
        scores = self.head(self.user_vectors(inputs))
        if mode == 'loss':
            return {'loss': self.loss_fn(scores, targets[:, -1])}
        return score_outputs(scores) if mode == 'predict' else scores

    @torch.inference_mode()
    def recommend(self, inputs: torch.Tensor, k: int = 20) -> torch.Tensor:
        return self.head(self.user_vectors(inputs)).topk(k, dim=-1).indices
