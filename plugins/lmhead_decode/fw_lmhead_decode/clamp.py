"""Clamping a neuron during generation (Davies 2025, Sec. 3: clamping the decoded "dog" neuron
raises the probability of "dog" and makes the Instruct model talk about dogs).

Hook ``b`` (default): a forward pre-hook on ``down_proj`` sets coordinate i of its input
act(W_gate xh) * (W_up xh) to c at every position (prompt and generated) of layer l, so the
residual receives c * W_down[:, i] instead of a_i(x) * W_down[:, i]. Hook ``a``: a forward hook on
``up_proj`` sets output i to c; the activation act(gate_i) * c then still varies with the input.

c = sign * kappa * max|a_i| (a_i measured on calibration text). ``sign='auto'`` takes the sign that
raises the target token's direct logit through the output column: the sign of
(W_U (gamma_f * W_down[:, i]))[t] minus its mean over the vocabulary. Whether the paper clamps to
a positive value or by sign is not stated; every result records the sign used.
"""

from __future__ import annotations

from collections import defaultdict

import torch

from framework import FwError

from .decode import check_layout, lm_head_weight

HOOKS = ('a', 'b')


def _parse(clamp, hook):
    if isinstance(clamp, dict):
        layer, index, value = clamp['layer'], clamp['index'], clamp['value']
        h = clamp.get('hook', hook)
    else:
        layer, index, value, *rest = clamp
        h = rest[0] if rest else hook
    if h not in HOOKS:
        raise FwError(
            f"clamp hook '{h}': choose b (down_proj input, default) or a (up_proj output)"
        )
    return int(layer), int(index), float(value), h


class NeuronClamp:
    """``lmhead_decode.NeuronClamp``: context manager that clamps neurons while it is open.

    Args:
        model: a Llama-style causal LM (``model.model.layers[l].mlp.{up,down}_proj``).
        clamps: list of ``(layer, index, value)`` or ``(layer, index, value, hook)`` tuples, or
            dicts with those keys; one list may clamp several neurons in several layers.
        hook: default hook for entries that do not name one: ``b`` (down_proj pre-hook, the
            activation itself) or ``a`` (up_proj output).

    Hooks are removed on exit, also after an error; they act on every forward call, so they work
    with ``generate`` and any cache.
    """

    def __init__(self, model, clamps, hook: str = 'b'):
        check_layout(model)
        self.model = model
        self.clamps = [_parse(c, hook) for c in clamps]
        n_layers = len(model.model.layers)
        width = model.model.layers[0].mlp.down_proj.weight.shape[1]
        for layer, index, _, _ in self.clamps:
            if not (0 <= layer < n_layers and 0 <= index < width):
                raise FwError(
                    f'clamp ({layer}, {index}): the model has {n_layers} layers of {width} neurons'
                )
        self.handles = []

    def __enter__(self):
        groups = defaultdict(list)
        for layer, index, value, h in self.clamps:
            groups[(layer, h)].append((index, value))
        try:
            for (layer, h), items in groups.items():
                idx = torch.tensor([i for i, _ in items])
                val = torch.tensor([v for _, v in items])
                mlp = self.model.model.layers[layer].mlp
                if h == 'b':
                    self.handles.append(
                        mlp.down_proj.register_forward_pre_hook(_pre_hook(idx, val))
                    )
                else:
                    self.handles.append(mlp.up_proj.register_forward_hook(_out_hook(idx, val)))
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

    def remove(self):
        for h in self.handles:
            h.remove()
        self.handles = []


def _set(x, idx, val):
    x = x.clone()
    x[..., idx.to(x.device)] = val.to(x.device, x.dtype)
    return x


def _pre_hook(idx, val):
    def hook(module, args):
        return (_set(args[0], idx, val), *args[1:])

    return hook


def _out_hook(idx, val):
    def hook(module, args, output):
        return _set(output, idx, val)

    return hook


@torch.no_grad()
def activation_max(model, windows: torch.Tensor, layers) -> dict[int, torch.Tensor]:
    """max over the calibration tokens of |a_i| (the down_proj input), per requested layer."""
    found, handles = {}, []
    for layer in sorted(set(layers)):

        def grab(module, args, layer=layer):
            m = args[0].detach().abs().flatten(0, -2).amax(0)
            found[layer] = m if layer not in found else torch.maximum(found[layer], m)

        handles.append(model.model.layers[layer].mlp.down_proj.register_forward_pre_hook(grab))
    try:
        for w in windows:
            model(input_ids=w[None].to(lm_head_weight(model).device), use_cache=False)
    finally:
        for h in handles:
            h.remove()
    return {k: v.float().cpu() for k, v in found.items()}


@torch.no_grad()
def direct_logit(model, layer: int, index: int, token: int) -> dict:
    """Direct effect of the neuron's output column on token t: v = W_U (gamma_f * W_down[:, i]);
    returns the z-score of v[t] over the vocabulary and the sign that raises it."""
    col = model.model.layers[layer].mlp.down_proj.weight[:, index].double()
    v = lm_head_weight(model).double() @ (model.model.norm.weight.double() * col)
    centred = float(v[token] - v.mean())
    return dict(z=centred / float(v.std()), sign=1.0 if centred >= 0 else -1.0)


def prompt_ids(tokenizer, prompt: str) -> torch.Tensor:
    """(1, P) ids: the chat template for instruct models, else the plain text."""
    if getattr(tokenizer, 'chat_template', None):
        out = tokenizer.apply_chat_template(
            [{'role': 'user', 'content': prompt}],
            add_generation_prompt=True,
            return_tensors='pt',
            return_dict=True,
        )
        return out['input_ids']
    return tokenizer(prompt, return_tensors='pt')['input_ids']


@torch.no_grad()
def generate_and_score(
    model,
    ids: torch.Tensor,
    token: int,
    new_tokens: int = 12,
    clamps=(),
    hook: str = 'b',
    sample: bool = False,
    temperature: float = 0.7,
    seed: int = 0,
    pad_id: int | None = None,
) -> dict:
    """Generate ``new_tokens`` after ``ids`` with ``clamps`` on, then score the generation
    teacher-forced (clamps still on): mean p(token) over the generated positions, p(token) at the
    first answer position, and how often the token was generated."""
    dev = lm_head_weight(model).device
    ids = ids.to(dev)
    with NeuronClamp(model, clamps, hook):
        kw = (
            dict(do_sample=True, temperature=temperature, top_k=0, top_p=1.0)
            if sample
            else dict(do_sample=False, temperature=None, top_k=None, top_p=None)
        )
        if sample:
            torch.manual_seed(seed)
        full = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=new_tokens,
            pad_token_id=pad_id,
            **kw,
        )
        logits = model(input_ids=full, use_cache=False).logits[0].float()
    p0 = ids.shape[1]
    gen = full[0, p0:]
    probs = torch.softmax(logits[p0 - 1 : full.shape[1] - 1], -1)[:, token]
    return dict(
        p_mean=float(probs.mean()),
        p_first=float(probs[0]),
        count=int((gen == token).sum()),
        generated=gen.tolist(),
    )


def clamp_values(amax: torch.Tensor, index: int, kappas, sign: float) -> list[float]:
    """c = sign * kappa * max|a_i| for each kappa."""
    return [sign * float(k) * float(amax[index]) for k in kappas]


def mentions(text: str, words) -> bool:
    """Case-insensitive whole-word match of any of ``words`` in ``text``."""
    import re

    return any(re.search(rf'\b{re.escape(w.lower())}\b', text.lower()) for w in words)


def calibration_windows(tokenizer, tokens: int = 512, window: int = 256) -> torch.Tensor:
    """The first ``tokens`` tokens of the pydoc ``train`` split as windows (max |a_i| calibration)."""
    from framework.llm.data import encode, pydoc_text, token_windows

    return token_windows(
        encode(tokenizer, pydoc_text('train')),
        min(window, tokens),
        max(tokens // min(window, tokens), 1),
    )


def _token_id(tokenizer, token: str) -> int:
    ids = tokenizer(token, add_special_tokens=False)['input_ids']
    if len(ids) != 1:
        raise FwError(
            f'--token {token!r} is {len(ids)} tokens {ids}; give one token, with its '
            f"leading space where the atlas shows one (e.g. ' water')"
        )
    return ids[0]


def _sign(mode: str, auto: float) -> float:
    return {'auto': auto, 'opposite': -auto, '+': 1.0, '-': -1.0}[mode]


def clamp_study(
    model,
    neurons,
    token=None,
    kappas=(5.0, 20.0),
    sign='auto',
    hook='b',
    variant='A',
    prompts=('Tell me a short story.',),
    new_tokens=12,
    calib_tokens=512,
    control=True,
    samples=0,
    scenario='What is your favourite animal?',
    seed=0,
    lm=None,
    tokenizer=None,
    log=print,
) -> dict:
    """Clamp each (layer, index) of ``neurons`` at kappa * max|a_i| (signed) on each prompt and
    measure p(t) of its decoded token t (or ``token``), greedy, against the unclamped run; with a
    random control neuron of the same layer clamped the same way. Summarised by
    ``lmhead_decode.ClampEffect`` (built through the registry)."""
    import time

    from framework import METRICS

    from .decode import naive_decode

    t0 = time.perf_counter()
    if lm is None:
        from framework.llm.models import load_causal_lm, load_tokenizer

        lm, tokenizer = load_causal_lm(model), load_tokenizer(model)
    check_layout(lm)
    kappas = [0.0] + [float(k) for k in kappas if float(k) != 0.0]
    width = lm.model.layers[0].mlp.down_proj.weight.shape[1]
    g = torch.Generator().manual_seed(seed)
    plan = []
    for layer, index in neurons:
        t = (
            _token_id(tokenizer, token)
            if token
            else int(naive_decode(lm, layer, index, 'up', variant, k=1)['ids'][0])
        )
        plan.append(('target', layer, index, t))
        if control:
            other = int(torch.randint(width - 1, (1,), generator=g))
            plan.append(('control', layer, other + (other >= index), t))
    amax = activation_max(
        lm, calibration_windows(tokenizer, calib_tokens), {layer for _, layer, _, _ in plan}
    )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = [prompt_ids(tokenizer, p) for p in prompts]
    baseline, rows, info, examples = {}, [], [], {}
    for role, layer, index, t in plan:
        d = direct_logit(lm, layer, index, t)
        s = _sign(sign, d['sign'])
        info.append(
            dict(
                neuron=f'{layer}:{index}',
                role=role,
                token=tokenizer.decode([t]),
                token_id=t,
                direct_logit_z=d['z'],
                sign=s,
                max_abs_activation=float(amax[layer][index]),
            )
        )
        log(
            f'{role} {layer}:{index} {tokenizer.decode([t])!r}: z={d["z"]:.2f} sign {s:+.0f} '
            f'max|a|={float(amax[layer][index]):.3g}'
        )
        for kappa in kappas:
            signed = kappa * s if kappa else 0.0  # kappa 0: the shared unclamped run
            for pi, ids in enumerate(encoded):
                if kappa == 0.0 and (pi, t) in baseline:
                    out = baseline[(pi, t)]
                else:
                    clamps = (
                        [(layer, index, s * kappa * float(amax[layer][index]))] if kappa else []
                    )
                    out = generate_and_score(lm, ids, t, new_tokens, clamps, hook, pad_id=pad)
                    if kappa == 0.0:
                        baseline[(pi, t)] = out
                rows.append(
                    dict(
                        neuron=f'{layer}:{index}',
                        role=role,
                        token=tokenizer.decode([t]),
                        kappa=signed,
                        p_mean=out['p_mean'],
                        p_first=out['p_first'],
                        count=out['count'],
                    )
                )
                if pi == 0:
                    text = tokenizer.decode(out['generated'], skip_special_tokens=True)
                    examples.setdefault(f'{role} {layer}:{index}', {})[signed] = text
    metric = METRICS.build(dict(type='lmhead_decode.ClampEffect'))
    metric.process(None, rows)
    effect = metric.compute_metrics(metric.results)
    res = dict(
        model=str(model),
        hook=hook,
        variant=variant,
        sign_mode=sign,
        kappas=kappas,
        prompts=list(prompts),
        new_tokens=new_tokens,
        calib_tokens=calib_tokens,
        neurons=info,
        effect=effect,
        examples=examples,
    )
    if samples:
        res['scenario'] = _scenario(
            lm,
            tokenizer,
            effect,
            info,
            amax,
            scenario,
            samples,
            hook,
            new_tokens=max(new_tokens, 24),
            pad=pad,
            log=log,
        )
    res['seconds'] = round(time.perf_counter() - t0, 1)
    return res


def _scenario(lm, tokenizer, effect, info, amax, prompt, samples, hook, new_tokens, pad, log):
    """ "Favourite animal" (Sec. 3): fraction of sampled answers (temperature 0.7, seeds
    0..samples-1) that mention the concept, with and without the clamp at its best kappa."""
    ids = prompt_ids(tokenizer, prompt)
    token_ids = {i['neuron']: i['token_id'] for i in info if i['role'] == 'target'}
    out = []
    for n in effect['neurons']:
        if n['role'] != 'target':
            continue
        layer, index = (int(x) for x in n['neuron'].split(':'))
        word = n['token'].strip().lower()
        words = [word, word + 's']
        value = n['best_kappa'] * float(amax[layer][index])
        frac = {}
        for tag, clamps in (('off', []), ('on', [(layer, index, value)])):
            hits = 0
            for seed in range(samples):
                g = generate_and_score(
                    lm,
                    ids,
                    token_ids[n['neuron']],
                    new_tokens,
                    clamps,
                    hook,
                    sample=True,
                    seed=seed,
                    pad_id=pad,
                )
                hits += mentions(tokenizer.decode(g['generated'], skip_special_tokens=True), words)
            frac[tag] = hits / samples
        log(f'scenario {n["neuron"]} {words}: {frac["off"]:.2f} -> {frac["on"]:.2f}')
        out.append(
            dict(
                neuron=n['neuron'],
                words=words,
                kappa=n['best_kappa'],
                samples=samples,
                frac_off=frac['off'],
                frac_on=frac['on'],
                prompt=prompt,
            )
        )
    return out
