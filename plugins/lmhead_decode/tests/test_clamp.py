"""Clamping: monotone effect of a planted neuron on its token, sign, hook removal (bitwise
baseline after exit, also after errors), generate with a cache, hook a."""

import pytest
import torch

from framework import MODELS
from framework.llm.models import tiny
from fw_lmhead_decode.clamp import generate_and_score


def _clamp(model, clamps, hook='b'):
    return MODELS.build(
        dict(type='lmhead_decode.NeuronClamp', model=model, clamps=clamps, hook=hook)
    )


def _planted(t=77, i=5):
    """Untied tiny Llama whose last-layer neuron i writes (20 x) the LM-head row of token t."""
    model = tiny('llama')
    with torch.no_grad():
        model.lm_head.weight[t] *= 20
        model.model.layers[-1].mlp.down_proj.weight[:, i] = model.lm_head.weight[t]
    return model, t, i


def test_clamp_is_monotone_in_c_and_sign_matters():
    model, t, i = _planted()
    ids = torch.randint(0, 512, (1, 12), generator=torch.Generator().manual_seed(0))
    h = {}
    grab = model.model.layers[-1].register_forward_pre_hook(
        lambda m, a: h.setdefault('x', a[0].detach())
    )
    with torch.no_grad():
        base = model(input_ids=ids).logits
    grab.remove()
    unit = float(h['x'].norm(dim=-1).mean()) / float(
        model.model.layers[-1].mlp.down_proj.weight[:, i].norm()
    )
    p_up, p_down = [], []
    for c in (0, 0.25, 0.5, 1, 2, 4, 8, 16):
        for sign, out in ((1, p_up), (-1, p_down)):
            with torch.no_grad(), _clamp(model, [(1, i, sign * c * unit)]):
                out.append(float(torch.softmax(model(input_ids=ids).logits[0, -1], -1)[t]))
    assert all(b >= a for a, b in zip(p_up, p_up[1:])), p_up
    assert p_up[-1] >= 0.9
    assert p_down[-1] < p_up[0] and p_down[-1] < p_down[1]
    with torch.no_grad():
        after = model(input_ids=ids).logits
    assert torch.equal(after, base)  # no hook leaks after the context


def test_clamp_acts_at_every_generated_step_with_a_cache():
    model, t, i = _planted()
    ids = torch.randint(0, 512, (1, 6), generator=torch.Generator().manual_seed(1))
    c = 200.0
    out = generate_and_score(model, ids, t, new_tokens=5, clamps=[(1, i, c)])
    assert out['generated'] == [t] * 5 and out['count'] == 5 and out['p_mean'] > 0.9
    with _clamp(model, [(1, i, c)]), torch.no_grad():
        gen = model.generate(
            ids,
            max_new_tokens=5,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
            pad_token_id=0,
        )
        full = model(input_ids=gen.sequences, use_cache=False).logits[0, ids.shape[1] - 1 : -1]
    torch.testing.assert_close(
        torch.stack(gen.scores)[:, 0].double(), full.double(), atol=1e-5, rtol=1e-5
    )
    base = generate_and_score(model, ids, t, new_tokens=5)
    assert base['p_mean'] < 0.1


def test_hooks_removed_after_an_error_and_hook_a():
    model, t, i = _planted()
    ids = torch.arange(8)[None]
    with torch.no_grad():
        base = model(input_ids=ids).logits
    with pytest.raises(RuntimeError):
        with _clamp(model, [(0, 3, 1.0), (1, i, 5.0)]):
            raise RuntimeError('boom')
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, base)
    seen = {}
    mlp = model.model.layers[0].mlp
    grab = mlp.down_proj.register_forward_pre_hook(lambda m, a: seen.setdefault('a', a[0]))
    with torch.no_grad(), _clamp(model, [(0, 3, 2.5)], hook='a'):
        model(input_ids=ids)
    grab.remove()
    gate_in = {}
    g2 = mlp.gate_proj.register_forward_hook(lambda m, a, o: gate_in.setdefault('g', o))
    with torch.no_grad():
        model(input_ids=ids)
    g2.remove()
    want = mlp.act_fn(gate_in['g'][..., 3]) * 2.5  # act(gate_i) * c: varies with the input
    torch.testing.assert_close(seen['a'][..., 3], want)
    assert want.std() > 0
