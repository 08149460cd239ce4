"""The batched decode equals the direct per-neuron computation; determinism; planted neurons;
variants, scales, the tied head; clear errors."""

import pytest
import torch

from framework import MODELS, FwError
from framework.llm.models import tiny
from fw_lmhead_decode.decode import naive_decode, neuron_weights


def _decoder(model, **kw):
    return MODELS.build(dict(type='lmhead_decode.NeuronDecoder', model=model, **kw))


@pytest.mark.parametrize(
    'matrix,variant,scale',
    [
        ('up', 'A', 'raw'),
        ('up', 'B', 'unit'),
        ('up', 'C', 'rms:1'),
        ('gate', 'C', 'raw'),
        ('down', 'B', 'raw'),
    ],
)
def test_batched_equals_direct_per_neuron(matrix, variant, scale, randomise):
    model = randomise(tiny('llama', dtype=torch.float32))
    res = _decoder(
        model, matrix=matrix, variant=variant, scale=scale, k=10, chunk=64, tau=0.7
    ).decode()
    t = res['tensors']
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        layer = int(torch.randint(2, (1,), generator=g))
        i = int(torch.randint(t['ids'].shape[1], (1,), generator=g))
        ref = naive_decode(model, layer, i, matrix, variant, scale, k=10, tau=0.7)
        assert torch.equal(t['ids'][layer, i].long(), ref['ids'])
        torch.testing.assert_close(t['probs'][layer, i], ref['probs'], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(t['logits'][layer, i], ref['logits'], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(t['entropy'][layer, i], ref['entropy'], atol=1e-5, rtol=1e-5)
    norms = torch.stack([neuron_weights(model, x, matrix).norm(dim=-1) for x in range(2)])
    torch.testing.assert_close(t['norm'], norms.detach())


def test_deterministic_and_chunk_invariant(tmp_path, randomise):
    model = randomise(tiny('llama', dtype=torch.float32))
    a = _decoder(model, chunk=64).decode()['tensors']
    b = _decoder(model, chunk=64).decode()['tensors']
    assert all(torch.equal(a[k], b[k]) for k in a)
    model.save_pretrained(str(tmp_path))
    c = _decoder(str(tmp_path), chunk=64).decode()['tensors']  # save/load round trip
    assert all(torch.equal(a[k], c[k]) for k in a)
    d = _decoder(model, chunk=256).decode()['tensors']
    margin = a['logits'].diff(dim=-1).abs().min(-1).values
    clear = margin > 1e-5
    assert clear.float().mean() > 0.5  # tiny random weights: logits ~1e-3, many near-ties
    assert torch.equal(a['ids'][clear], d['ids'][clear])
    m64 = randomise(tiny('llama'))
    e = _decoder(m64, chunk=64, dtype='float64').decode()['tensors']
    f = _decoder(m64, chunk=256, dtype='float64').decode()['tensors']
    assert torch.equal(e['ids'], f['ids'])
    for key in ('logits', 'probs', 'entropy'):
        torch.testing.assert_close(e[key], f[key], atol=1e-12, rtol=1e-12)


def test_planted_neurons_decode_to_their_token(randomise):
    model = tiny('llama')  # untied: W_U is not the embedding
    g = torch.Generator().manual_seed(3)
    head = model.lm_head.weight
    planted = set()
    with torch.no_grad():
        while len(planted) < 20:
            layer, i = (
                int(torch.randint(2, (1,), generator=g)),
                int(torch.randint(256, (1,), generator=g)),
            )
            t = int(torch.randint(512, (1,), generator=g))
            if (layer, i) in {(p[0], p[1]) for p in planted}:
                continue
            s = float(torch.rand(1, generator=g)) * 5 + 0.1
            model.model.layers[layer].mlp.up_proj.weight[i] = s * head[t]
            planted.add((layer, i, t))
    dec = {v: _decoder(model, variant=v, dtype='float64').decode()['tensors'] for v in 'ABC'}
    for layer, i, t in planted:
        assert int(dec['A']['ids'][layer, i, 0]) == t
    for v in 'BC':  # gamma = 1 at initialisation
        assert torch.equal(dec['A']['ids'], dec[v]['ids'])
        assert torch.equal(dec['A']['logits'], dec[v]['logits'])
    randomise(model)
    a2 = _decoder(model, variant='A', dtype='float64').decode()['tensors']
    b2 = _decoder(model, variant='B', dtype='float64').decode()['tensors']
    assert all(torch.equal(a2[k], dec['A'][k]) for k in a2)  # A ignores gamma
    assert not torch.allclose(b2['logits'], dec['B']['logits'])


def test_tied_head_is_read_through_the_tie():
    model = tiny('llama', tie_word_embeddings=True)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    with torch.no_grad():
        w = model.model.layers[1].mlp.up_proj.weight[7].clone()
        model.model.embed_tokens.weight[123] = 10 * w / w.norm() ** 2 * 0.05 + w * 3
    res = _decoder(model, layers=[1], dtype='float64').decode()
    assert int(res['tensors']['ids'][0, 7, 0]) == 123
    assert res['meta']['tied'] and res['meta']['layers'] == [1]


def test_scale_keeps_top_k_and_changes_probabilities(randomise):
    model = randomise(tiny('llama'))
    raw = _decoder(model, dtype='float64').decode()['tensors']
    unit = _decoder(model, scale='unit', dtype='float64').decode()['tensors']
    rms = _decoder(model, scale='rms:2', dtype='float64').decode()['tensors']
    assert torch.equal(raw['ids'], unit['ids']) and torch.equal(raw['ids'], rms['ids'])
    assert not torch.allclose(raw['probs'], unit['probs'])
    # rms:2 = 2 * sqrt(D) * unit: its logits are exactly that multiple
    torch.testing.assert_close(rms['logits'], unit['logits'] * 2 * 64**0.5)


def test_clear_errors():
    model = tiny('llama')
    for kw, word in (
        (dict(matrix='ffn'), 'matrix'),
        (dict(variant='D'), 'variant'),
        (dict(scale='big'), 'scale'),
        (dict(matrix='down', variant='C'), 'variant C'),
        (dict(dtype='bfloat16'), 'float32'),
        (dict(layers=[5]), 'out of range'),
    ):
        with pytest.raises(FwError, match=word):
            _decoder(model, **kw).decode()
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=32))
    with pytest.raises(FwError, match='layout'):
        _decoder(gpt2).decode()
    with pytest.raises(FwError, match='not found'):
        _decoder('/nonexistent/model').decode()
