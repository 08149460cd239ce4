"""GenRec: the generative LLM recommender the paper argues against (P5 lineage, Sec. 2 and 3.1).

An encoder-decoder built from two copies of the ItemLLM backbone reads the history as text,
``"History: {s_1}; ...; {s_Ng}. Next:"``, and decodes the next item's string
``"{title} ({year})"`` with beam search constrained by a prefix trie over all item token
sequences. The beam order is the ranking.
"""

from __future__ import annotations

import torch
from mmengine.model import BaseModel

from framework import FwError

from .backbone import quiet_transformers, resolve_path
from .data import load_sequence_data


def item_token_sequences(seqs, tokenizer) -> tuple[list[tuple[int, ...]], list[str]]:
    """Token ids of every item string (index i-1 = item i), made unique with ' #2', ' #3', ...

    Uniqueness is checked on token ids, since an uncased WordPiece tokenizer folds case and
    accents, so the id sequence -> item map is a bijection. Returns (token ids, strings).
    """
    taken: set[tuple[int, ...]] = set()
    out, strings = [], []
    for item in range(1, seqs.n_items + 1):
        base = seqs.item_title(item)
        text, k = base, 1
        ids = tuple(tokenizer(text, add_special_tokens=False)['input_ids'])
        while ids in taken or not ids:
            k += 1
            text = f'{base} #{k}'
            ids = tuple(tokenizer(text, add_special_tokens=False)['input_ids'])
        taken.add(ids)
        out.append(ids)
        strings.append(text)
    return out, strings


def history_texts(item_strings, inputs: torch.Tensor, history_items: int) -> list[str]:
    """``"History: s_1; ...; s_Ng. Next:"`` from the last N_g non-pad ids of each row."""
    texts = []
    for row in inputs.tolist():
        items = [i for i in row if i > 0][-history_items:]
        texts.append('History: ' + '; '.join(item_strings[i - 1] for i in items) + '. Next:')
    return texts


class ItemTrie:
    """Prefix trie over item token sequences; a node that ends an item also allows EOS.

    Args:
        sequences (list[tuple[int, ...]]): token ids of items 1..n (index i-1 = item i).
        eos (int): the end-of-item token id; pad (int): the id allowed after EOS.
    """

    END = -1

    def __init__(self, sequences, eos: int, pad: int):
        self.root: dict = {}
        self.eos, self.pad = eos, pad
        self.item_of: dict[tuple[int, ...], int] = {}
        for item, seq in enumerate(sequences, start=1):
            if seq in self.item_of:
                raise FwError(f'items {self.item_of[seq]} and {item} tokenise identically')
            self.item_of[seq] = item
            node = self.root
            for tok in seq:
                node = node.setdefault(tok, {})
            node[self.END] = item
        self.longest = max((len(s) for s in sequences), default=0)

    def allowed(self, prefix) -> list[int]:
        """Tokens that may follow ``prefix`` (decoded ids after the start token)."""
        node = self.root
        for tok in prefix:
            node = None if tok == self.eos else node.get(tok)
            if node is None:  # after EOS (or off the trie): only padding
                return [self.pad]
        return [t for t in node if t != self.END] + ([self.eos] if self.END in node else [])

    def item(self, generated) -> int | None:
        """The item a decoded sequence names (tokens up to EOS), or None."""
        seq = []
        for tok in generated:
            if tok == self.eos:
                break
            seq.append(int(tok))
        return self.item_of.get(tuple(seq))


class GenRec(BaseModel):
    """Encoder-decoder from two copies of a local BERT-style backbone, decoding item titles.

    Args:
        data (dict): the ``data`` config (catalogue; ``max_len`` = N of the samples).
        path (str | None): local HF encoder folder (None = packaged all-MiniLM-L6-v2); the
            decoder copy gets causal self-attention and new, randomly initialised cross-attention.
        layers (int): keep the first L layers of both stacks (CPU default 2 + 2).
        history_items (int): N_g, items in the source text (CPU 5, real 20).
        max_source_tokens (int): left-truncate the source to this many tokens (256).
        num_beams (int): beams = returned sequences = Kmax (20).
        length_penalty (float): 0 orders beams by item sequence log-probability.
        freeze_embeddings (bool): keep the pretrained word embeddings (encoder, decoder and the
            tied output layer) fixed; on a CPU this saves most of a step's time.
        data_preprocessor (dict | None): mmengine data preprocessor.

    Training: token CE with teacher forcing on the next item's tokens + [SEP].
    """

    def __init__(
        self,
        data,
        path=None,
        layers=2,
        history_items=5,
        max_source_tokens=256,
        num_beams=20,
        length_penalty=0.0,
        freeze_embeddings=False,
        data_preprocessor=None,
    ):
        super().__init__(data_preprocessor=data_preprocessor)
        from transformers import AutoTokenizer, EncoderDecoderModel

        folder = str(resolve_path(path))
        self.seqs = load_sequence_data(**data)
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        with quiet_transformers():  # new cross-attention weights: expected, not news
            self.net = EncoderDecoderModel.from_encoder_decoder_pretrained(
                folder,
                folder,
                encoder_num_hidden_layers=layers,
                decoder_num_hidden_layers=layers,
                encoder_local_files_only=True,
                decoder_local_files_only=True,
                encoder_attn_implementation='sdpa',
                decoder_attn_implementation='sdpa',
            )
        if freeze_embeddings:
            self.net.encoder.embeddings.word_embeddings.requires_grad_(False)
            self.net.decoder.get_input_embeddings().requires_grad_(False)
        tok = self.tokenizer
        self.eos, self.pad, self.bos = tok.sep_token_id, tok.pad_token_id, tok.cls_token_id
        cfg = self.net.config
        cfg.decoder_start_token_id, cfg.pad_token_id, cfg.eos_token_id = (
            self.bos,
            self.pad,
            self.eos,
        )
        self.item_tokens, self.item_strings = item_token_sequences(self.seqs, tok)
        self.trie = ItemTrie(self.item_tokens, eos=self.eos, pad=self.pad)
        self.history_items, self.max_source_tokens = history_items, max_source_tokens
        self.num_beams, self.length_penalty = num_beams, length_penalty

    # ---- text --------------------------------------------------------------------------------
    def source_texts(self, inputs: torch.Tensor) -> list[str]:
        return history_texts(self.item_strings, inputs, self.history_items)

    def encode_source(self, inputs: torch.Tensor) -> dict:
        self.tokenizer.truncation_side = 'left'
        enc = self.tokenizer(
            self.source_texts(inputs),
            padding=True,
            truncation=True,
            max_length=self.max_source_tokens,
            return_tensors='pt',
        )
        return {k: v.to(inputs.device) for k, v in enc.items() if k != 'token_type_ids'}

    def target_labels(self, items: torch.Tensor) -> torch.Tensor:
        seqs = [list(self.item_tokens[i - 1]) + [self.eos] for i in items.tolist()]
        labels = torch.full((len(seqs), max(map(len, seqs))), -100, dtype=torch.long)
        for k, s in enumerate(seqs):
            labels[k, : len(s)] = torch.as_tensor(s)
        return labels.to(items.device)

    # ---- decoding ----------------------------------------------------------------------------
    def _allowed(self, batch_id, decoded):
        return self.trie.allowed(decoded[1:].tolist())

    @torch.no_grad()
    def beam_search(
        self, inputs: torch.Tensor, num_beams: int | None = None, return_scores: bool = False
    ):
        """Ranked item ids (one list per row) from trie-constrained beam search."""
        k = num_beams or self.num_beams
        enc = self.encode_source(inputs)
        out = self.net.generate(
            **enc,
            num_beams=k,
            num_return_sequences=k,
            length_penalty=self.length_penalty,
            early_stopping=False,
            do_sample=False,
            max_new_tokens=self.trie.longest + 1,
            prefix_allowed_tokens_fn=self._allowed,
            decoder_start_token_id=self.bos,
            eos_token_id=self.eos,
            pad_token_id=self.pad,
            output_scores=return_scores,
            return_dict_in_generate=True,
        )
        seqs = out.sequences.view(len(inputs), k, -1)[:, :, 1:].tolist()
        ranked = [[self.trie.item(s) for s in row] for row in seqs]
        if return_scores:
            return ranked, out.sequences_scores.view(len(inputs), k)
        return ranked

    @torch.no_grad()
    def item_log_probs(self, inputs: torch.Tensor, items: list[int]) -> torch.Tensor:
        """Teacher-forced log p(item tokens + EOS | source) for each item, for one history row."""
        enc = self.encode_source(inputs[:1].expand(len(items), -1))
        labels = self.target_labels(torch.as_tensor(items, device=inputs.device))
        logits = self.net(**enc, labels=labels).logits.float().log_softmax(-1)
        mask = labels != -100
        picked = logits.gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
        return (picked * mask).sum(-1)

    def forward(self, inputs, targets=None, target=None, seen=None, mode='tensor'):
        if mode == 'loss':
            labels = self.target_labels(targets[:, -1])
            return {'loss': self.net(**self.encode_source(inputs), labels=labels).loss}
        ranked = self.beam_search(inputs)
        return [dict(ranked=[i for i in row if i is not None]) for row in ranked]

    def recommend(self, inputs: torch.Tensor, k: int | None = None):
        return self.beam_search(inputs, k)
