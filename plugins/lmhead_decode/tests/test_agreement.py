"""agree@1 between checkpoints: closed forms, self-agreement 1, a within-layer shuffle sits at the
permutation chance level."""

import copy
import math

import torch

from framework import MODELS
from framework.llm.models import tiny


def _top(model):
    dec = MODELS.build(dict(type='lmhead_decode.NeuronDecoder', model=model, dtype='float64'))
    return dec.decode()['tensors']['ids']


def _agree(ids_a, ids_b, permutations=5):
    from framework import METRICS

    m = METRICS.build(dict(type='lmhead_decode.TopTokenAgreement', permutations=permutations))
    m.process(None, [dict(layer=l, ids_a=ids_a[l], ids_b=ids_b[l]) for l in range(len(ids_a))])
    return m.compute_metrics(m.results)


def test_closed_forms():
    a = torch.tensor([[[1, 2], [3, 4], [5, 6], [7, 8]]])
    b = torch.tensor([[[1, 9], [4, 3], [5, 6], [0, 7]]])
    res = _agree(a, b)
    assert res['agree1'] == 0.5 and res['per_layer'] == {0: 0.5}
    # Jaccard per neuron: 1/3, 1, 1, 1/3
    assert math.isclose(res['jaccard'], (1 / 3 + 1 + 1 + 1 / 3) / 4)
    assert res['distinct_top1_a'] == 4 and res['neurons'] == 4


def _concentrated(seed=0):
    """Tiny Llama whose LM head has 6 long rows: most neurons decode to one of them, so top-1
    tokens concentrate and the chance level is far above 1/V."""
    model = tiny('llama', seed=seed)
    with torch.no_grad():
        model.lm_head.weight[:6] *= 4
    return model


def test_self_agreement_and_shuffle_is_at_chance():
    model = _concentrated()
    ids = _top(model)
    same = _agree(ids, _top(copy.deepcopy(model)))
    assert same['agree1'] == 1.0 and same['jaccard'] == 1.0
    assert 0.05 < same['chance'] < 0.6  # concentrated top-1 tokens: chance >> 1/512
    shuffled = copy.deepcopy(model)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for layer in shuffled.model.layers:
            w = layer.mlp.up_proj.weight
            w.copy_(w[torch.randperm(w.shape[0], generator=g)])
    res = _agree(ids, _top(shuffled), permutations=20)
    se = math.sqrt(res['chance'] * (1 - res['chance']) / res['neurons'])
    assert abs(res['agree1'] - res['chance']) < 3 * se, (res['agree1'], res['chance'], se)
    assert res['agree1'] < 0.5 * same['agree1']
