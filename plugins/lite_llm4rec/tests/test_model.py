"""Lite-LLM4Rec and SASRec: padding, causality, the item-vector cache, the head and the loss."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from framework import MODELS, FwError, activate

DATA = Path(__file__).parent / 'data'
TINY = dict(dataset_path=str(DATA), format='recbole', name='tiny', max_len=6)


@pytest.fixture(scope='module', autouse=True)
def registered():
    torch.set_num_threads(1)
    activate('lite_llm4rec')


def lite(cache_dir, **rec_llm):
    rec = dict(
        type='lite_llm4rec.RecLLM', kind='scratch', layers=2, heads=2, hidden=16, dropout=0.0
    )
    rec.update(rec_llm)
    head = dict(type='lite_llm4rec.ItemProjectionHead', mode=rec.pop('head', 'linear'))
    return MODELS.build(
        dict(
            type='lite_llm4rec.LiteLLM4Rec',
            data=TINY,
            item_llm=dict(type='lite_llm4rec.ItemLLM'),
            rec_llm=rec,
            head=head,
            loss=dict(type='lite_llm4rec.FullSoftmaxCE'),
            cache=dict(type='lite_llm4rec.ItemVectorCache', cache_dir=str(cache_dir)),
        )
    )


def sasrec():
    return MODELS.build(dict(type='lite_llm4rec.SASRec', data=TINY, hidden=16, dropout=0.0))


@pytest.fixture(scope='module')
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp('vectors')


def histories(n_items, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(1, n_items + 1, (4, 6), generator=g)
    x[0, :3] = 0
    x[1, :5] = 0  # a history of length 1
    return x


@pytest.mark.parametrize('variant', ['lite', 'lite_tied', 'lite_bidir', 'sasrec'])
def test_padding_never_ranked_and_never_read(variant, cache_dir):
    torch.manual_seed(0)
    model = {
        'lite': lambda: lite(cache_dir),
        'sasrec': sasrec,
        'lite_tied': lambda: lite(cache_dir, head='tied'),
        'lite_bidir': lambda: lite(cache_dir, attention='bidirectional', readout='mean'),
    }[variant]().eval()
    x = histories(model.n_items)
    scores = model(x)
    assert torch.isfinite(scores[:, 1:]).all()  # a length-1 history gives no NaN
    assert (scores[:, 0] == float('-inf')).all()
    assert not (scores.topk(model.n_items, dim=-1).indices == 0).any()
    # the pad mask comes from the ids; give the pad positions a real item's input vector
    if variant == 'sasrec':
        emb = model.item_emb.weight.detach().clone()
        model.item_emb.weight.data[0] = emb[5]
    else:
        model.item_vectors[0] = model.item_vectors[5]
    assert torch.allclose(model(x)[:, 1:], scores[:, 1:], atol=1e-6)


@pytest.mark.parametrize('variant', ['lite', 'sasrec'])
def test_causality(variant, cache_dir):
    torch.manual_seed(0)
    model = (lite(cache_dir) if variant == 'lite' else sasrec()).eval()
    x = histories(model.n_items)
    edited = x.clone()
    edited[:, 4:] = torch.randint(1, model.n_items + 1, (4, 2))
    if variant == 'lite':
        h1 = model.rec_llm(model.item_vectors, x)
        h2 = model.rec_llm(model.item_vectors, edited)
    else:
        h1, h2 = model.hidden(x), model.hidden(edited)
    assert torch.allclose(h1[:, :4], h2[:, :4], atol=1e-6)
    assert not torch.allclose(h1[:, 4:], h2[:, 4:], atol=1e-3)


def test_cache_equals_a_fresh_masked_mean_encode(cache_dir):
    from transformers import AutoModel, AutoTokenizer

    model = lite(cache_dir)
    item_llm = model.frozen_item_llm[0]
    tok = AutoTokenizer.from_pretrained(item_llm.path, local_files_only=True)
    enc = AutoModel.from_pretrained(item_llm.path, local_files_only=True).eval()
    texts = model.texts[:5]
    batch = tok(texts, padding=True, return_tensors='pt')
    with torch.no_grad():
        hidden = enc(**batch).last_hidden_state
    m = batch['attention_mask'].unsqueeze(-1).float()
    expected = torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1), dim=-1)
    assert torch.allclose(model.item_vectors[1:6], expected, atol=1e-5)
    assert model.item_vectors[0].abs().sum() == 0
    again = lite(cache_dir)  # second build reads the saved vectors
    assert again.cache.hits == 1 and torch.equal(again.item_vectors, model.item_vectors)


def test_frozen_item_llm_gets_no_gradient_and_stays_bit_identical(cache_dir):
    torch.manual_seed(0)
    model = lite(cache_dir).train()
    item_llm = model.frozen_item_llm[0]
    before = {k: v.clone() for k, v in item_llm.state_dict().items()}
    assert not any(n.startswith('frozen') for n, _ in model.named_parameters())
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    x = histories(model.n_items)
    y = torch.roll(x, -1, 1)
    loss = model(x, y, mode='loss')['loss']
    loss.backward()
    opt.step()
    assert all(p.grad is None for p in item_llm.parameters())
    assert all(torch.equal(before[k], v) for k, v in item_llm.state_dict().items())


def test_finetuned_item_llm_gets_gradients(cache_dir):
    model = MODELS.build(
        dict(
            type='lite_llm4rec.LiteLLM4Rec',
            data=TINY,
            item_llm=dict(type='lite_llm4rec.ItemLLM', train='finetune'),
            rec_llm=dict(type='lite_llm4rec.RecLLM', hidden=16),
            head=dict(type='lite_llm4rec.ItemProjectionHead'),
            loss=dict(type='lite_llm4rec.FullSoftmaxCE'),
            cache=dict(type='lite_llm4rec.ItemVectorCache', cache_dir=str(cache_dir)),
        )
    )
    x = histories(model.n_items)
    model(x, torch.roll(x, -1, 1), mode='loss')['loss'].backward()
    grads = [p.grad for p in model.item_llm.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert model._stale
    model.eval()(x)
    assert not model._stale  # E_txt rebuilt from the fine-tuned encoder before scoring


def test_initial_ce_is_log_n_and_negatives_are_rejected(cache_dir):
    torch.manual_seed(0)
    for model in (lite(cache_dir), sasrec()):
        model.eval()
        x = histories(model.n_items)
        y = torch.roll(x, -1, 1)
        y[:, -1] = x[:, 0].clamp_min(1)
        loss = float(model(x, y, mode='loss')['loss'].detach())
        assert abs(loss - math.log(model.n_items)) < 0.5
    with pytest.raises(FwError, match='full softmax'):
        MODELS.build(dict(type='lite_llm4rec.FullSoftmaxCE', num_negatives=100))


def test_hf_recllm_is_causal_and_finite(cache_dir):
    torch.manual_seed(0)
    model = lite(cache_dir, kind='hf', layers=1, adapter='none').eval()
    assert model.rec_llm.dim == 384
    x = histories(model.n_items)
    scores = model(x)
    assert torch.isfinite(scores[:, 1:]).all()
    edited = x.clone()
    edited[:, 5] = (x[:, 5] % model.n_items) + 1
    h1 = model.rec_llm(model.item_vectors, x)
    h2 = model.rec_llm(model.item_vectors, edited)
    assert torch.allclose(h1[:, :5], h2[:, :5], atol=1e-5)


def test_bad_options_are_clear_errors(cache_dir):
    with pytest.raises(FwError, match='rec_llm.kind'):
        lite(cache_dir, kind='gpt')
    with pytest.raises(FwError, match='head.mode'):
        MODELS.build(dict(type='lite_llm4rec.ItemProjectionHead', mode='mlp'))
    with pytest.raises(FwError, match='config.json'):
        MODELS.build(dict(type='lite_llm4rec.ItemLLM', path=str(DATA)))
