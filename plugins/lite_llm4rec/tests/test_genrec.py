"""GenRec decoding: a bijective title -> token map, a trie, and exact constrained beam search."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from framework import MODELS, activate
from fw_lite_llm4rec.data import load_sequence_data
from fw_lite_llm4rec.genrec import ItemTrie, item_token_sequences

DATA = Path(__file__).parent / 'data'
TINY = dict(dataset_path=str(DATA), format='recbole', name='tiny', max_len=6)


@pytest.fixture(scope='module', autouse=True)
def registered():
    torch.set_num_threads(1)
    activate('lite_llm4rec')


@pytest.fixture(scope='module')
def tokenizer():
    from transformers import AutoTokenizer

    from fw_lite_llm4rec.backbone import minilm_path

    return AutoTokenizer.from_pretrained(str(minilm_path()), local_files_only=True)


def test_title_token_map_is_a_bijection_on_ml100k(tokenizer):
    seqs = load_sequence_data(max_len=50)
    tokens, strings = item_token_sequences(seqs, tokenizer)
    assert len(tokens) == seqs.n_items == 1682
    assert len(set(tokens)) == len(tokens)  # injective on token ids, hence a bijection
    plain = [
        tuple(tokenizer(seqs.item_title(i), add_special_tokens=False)['input_ids'])
        for i in range(1, seqs.n_items + 1)
    ]
    assert len(plain) - len(set(plain)) == 18  # the duplicated (title, year) pairs
    assert sum(s.endswith(' #2') for s in strings) == 18
    trie = ItemTrie(tokens, eos=tokenizer.sep_token_id, pad=tokenizer.pad_token_id)
    assert len(trie.item_of) == 1682 and trie.longest == 27
    for item in (1, 500, 1682):  # walking the trie along an item reaches exactly that item
        seq = tokens[item - 1]
        assert tokenizer.sep_token_id in trie.allowed(seq)
        assert trie.item(list(seq) + [tokenizer.sep_token_id]) == item
        assert all(seq[k] in trie.allowed(seq[:k]) for k in range(len(seq)))


def test_trie_allows_only_item_continuations():
    trie = ItemTrie([(5, 6), (5, 6, 7), (8,)], eos=2, pad=0)
    assert sorted(trie.allowed([])) == [5, 8]
    assert sorted(trie.allowed([5, 6])) == [2, 7]  # ends an item and continues another
    assert trie.allowed([5, 6, 2]) == [0]
    assert trie.item([5, 6, 7, 2, 0]) == 2 and trie.item([5]) is None


def test_beams_are_real_distinct_items():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='lite_llm4rec.GenRec', data=TINY, layers=1, num_beams=8)).eval()
    from fw_lite_llm4rec.sampling import SeqRecEvalData

    test = SeqRecEvalData(TINY, 'test')
    ranked = model.beam_search(test.inputs[:3])
    for row in ranked:
        assert None not in row and len(row) == 8 and len(set(row)) == 8
        assert all(1 <= i <= model.seqs.n_items for i in row)
    loss = model(test.inputs[:4], targets=test.inputs[:4], mode='loss')['loss']
    assert torch.isfinite(loss)


def test_beam_order_equals_teacher_forced_log_probs(tmp_path):
    """3-item catalogue, 3 beams: beam scores = sum of item token log-probs (length_penalty 0)."""
    (tmp_path / 'toy.item').write_text(
        'item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n'
        '1\tAlpha\t1990\tDrama\n2\tAlpha Beta Gamma\t1991\tDrama\n3\tDelta\t1992\tComedy\n'
    )
    rows = [(u, i, 10 * u + k) for u in (1, 2) for k, i in enumerate((1, 2, 3, 1))]
    (tmp_path / 'toy.inter').write_text(
        'user_id:token\titem_id:token\ttimestamp:float\n'
        + ''.join(f'{u}\t{i}\t{t}\n' for u, i, t in rows)
    )
    data = dict(dataset_path=str(tmp_path), name='toy', max_len=4)
    torch.manual_seed(0)
    model = MODELS.build(dict(type='lite_llm4rec.GenRec', data=data, layers=1, num_beams=3)).eval()
    history = torch.tensor([[0, 1, 2, 3]])
    ranked, scores = model.beam_search(history, return_scores=True)
    assert sorted(ranked[0]) == [1, 2, 3]
    teacher = model.item_log_probs(history, ranked[0])
    assert torch.allclose(scores[0].float(), teacher, atol=1e-4)
    assert (teacher[:-1] >= teacher[1:]).all()  # beams come out best first
