"""Tiny Stable Diffusion built from configs (no download): pipeline identity, switch-off rule,
only-the-projector training, falling loss, v-prediction target."""

import copy

import pytest
import torch

from fw_wiclp.neck import CLP, WiCLP
from fw_wiclp.sampling import (
    encode_prompts,
    make_pipeline,
    planned_timesteps,
    sample_reference,
    sample_with_pipeline,
)

PROMPTS = ['a red circle and a blue square', 'a green triangle']


def embeds(parts, prompts=PROMPTS):
    with torch.no_grad():
        clean = encode_prompts(parts.text_encoder, parts.tokenizer, prompts)
        negative = encode_prompts(parts.text_encoder, parts.tokenizer, [''] * len(prompts))
    return clean, negative


def random_projector(dim, seed=0):
    torch.manual_seed(seed)
    p = WiCLP(dim, window=5)
    torch.nn.init.normal_(p.conv.weight, std=0.05)
    torch.nn.init.normal_(p.conv.bias, std=0.05)
    return p


def run_pipeline(parts, projected, switch_off_t=-1, sampler='PNDM', steps=4, seed=0):
    clean, negative = embeds(parts)
    pipe = make_pipeline(parts, parts.make_sampler(sampler))
    gen = torch.Generator().manual_seed(seed)
    return sample_with_pipeline(
        pipe,
        clean,
        negative,
        projected,
        switch_off_t=switch_off_t,
        num_inference_steps=steps,
        guidance_scale=7.5,
        generator=gen,
        output_type='pt',
    ).images


class Recorder(torch.nn.Module):
    """Wraps the UNet and records (timestep, encoder_hidden_states) of every call."""

    def __init__(self, unet):
        super().__init__()
        self.unet, self.calls = unet, []

    def forward(self, sample, t, encoder_hidden_states=None, **kw):
        self.calls.append((int(t), encoder_hidden_states.detach().clone()))
        return self.unet(sample, t, encoder_hidden_states=encoder_hidden_states, **kw)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.unet, name)


def test_identity_projector_gives_bit_identical_images(tiny_parts):
    clean, _ = embeds(tiny_parts)
    base = run_pipeline(tiny_parts, None)
    with torch.no_grad():
        same = run_pipeline(tiny_parts, CLP(32)(clean))
        same_w = run_pipeline(tiny_parts, WiCLP(32)(clean))
    assert torch.equal(base, same) and torch.equal(base, same_w)


@pytest.mark.parametrize('sampler', ['PNDM', 'DDIM'])
def test_switch_off_schedule_per_unet_call(tiny_parts, sampler):
    clean, negative = embeds(tiny_parts)
    with torch.no_grad():
        projected = random_projector(32)(clean)
    ts = planned_timesteps(tiny_parts.make_sampler(sampler), 6)
    mid = int(ts[len(ts) // 2])
    for switch_off_t in (-1, mid, int(ts.max())):
        parts = copy.copy(tiny_parts)
        parts.unet = Recorder(tiny_parts.unet)
        run_pipeline(parts, projected, switch_off_t, sampler=sampler, steps=6)
        assert len(parts.unet.calls) == len(ts)
        for t, hidden in parts.unet.calls:
            uncond, cond = hidden.chunk(2)
            assert torch.equal(uncond, negative)  # never projected
            assert torch.equal(cond, projected if t > switch_off_t else clean), (t, switch_off_t)


def test_switch_off_past_every_step_equals_baseline(tiny_parts):
    clean, _ = embeds(tiny_parts)
    with torch.no_grad():
        projected = random_projector(32)(clean)
    ts = planned_timesteps(tiny_parts.make_sampler('PNDM'), 4)
    base = run_pipeline(tiny_parts, None)
    assert torch.equal(run_pipeline(tiny_parts, projected, switch_off_t=int(ts.max())), base)
    assert not torch.equal(run_pipeline(tiny_parts, projected, switch_off_t=-1), base)


@pytest.mark.parametrize('sampler,switch_off_t', [('PNDM', 500), ('DDIM', -1), ('DDIM', 500)])
def test_callback_path_equals_reference_loop(tiny_parts, sampler, switch_off_t):
    clean, negative = embeds(tiny_parts)
    with torch.no_grad():
        projected = random_projector(32)(clean)
    images = run_pipeline(tiny_parts, projected, switch_off_t, sampler=sampler)
    reference = sample_reference(
        tiny_parts.unet,
        tiny_parts.make_sampler(sampler),
        clean,
        negative,
        projected,
        switch_off_t,
        vae=tiny_parts.vae,
        num_inference_steps=4,
        guidance_scale=7.5,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.equal(images, reference)


def build_model(projector, prediction_type='epsilon'):
    from framework import MODELS

    return MODELS.build(
        dict(
            type='wiclp.ProjectedDiffusion',
            diffusion=dict(
                type='wiclp.TinyStableDiffusion',
                seed=0,
                embed_dim=32,
                sample_size=16,
                prediction_type=prediction_type,
                max_length=16,
            ),
            projector=projector,
        )
    )


def fixed_batch(n=4, res=32):
    from fw_wiclp.shapes import ShapeScenes

    data = ShapeScenes('comp_train', res=res, size=n, seed=0)
    items = [data[i] for i in range(n)]
    return torch.stack([i['inputs'] for i in items]), [i['data_samples']['prompt'] for i in items]


def test_only_the_projector_learns():
    model = build_model(dict(type='wiclp.WiCLP', dim=32, window=5))
    frozen = {
        name: {k: v.clone() for k, v in m.state_dict().items()}
        for name, m in [
            ('unet', model.parts.unet),
            ('vae', model.parts.vae),
            ('text_encoder', model.parts.text_encoder),
        ]
    }
    names = {n for n, _ in model.named_parameters()}
    assert names == {'projector.conv.weight', 'projector.conv.bias'}
    assert set(model.state_dict()) == names
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    images, prompts = fixed_batch()
    for _ in range(3):
        opt.zero_grad()
        model(images, [dict(prompt=p) for p in prompts], mode='loss')['loss'].backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
        opt.step()
    assert {id(p) for g in opt.param_groups for p in g['params']} == {
        id(p) for p in model.projector.parameters()
    }
    for name, m in [
        ('unet', model.parts.unet),
        ('vae', model.parts.vae),
        ('text_encoder', model.parts.text_encoder),
    ]:
        assert all(p.grad is None for p in m.parameters()), name
        assert all(torch.equal(v, frozen[name][k]) for k, v in m.state_dict().items()), name


@pytest.mark.parametrize(
    'projector', [dict(type='wiclp.CLP', dim=32), dict(type='wiclp.WiCLP', dim=32, window=5)]
)
def test_loss_falls_from_the_base_model(projector):
    """Fixed batch, fixed (t, eps): 50 Adam steps lower the loss by >= 1% from the identity."""
    model = build_model(projector)
    images, prompts = fixed_batch()
    g = torch.Generator().manual_seed(0)
    z0 = model.encode_images(images)
    noise = torch.randn(z0.shape, generator=g)
    t = torch.randint(0, 1000, (len(prompts),), generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    with torch.no_grad():
        start = model.diffusion_loss(images, prompts, t, noise, z0).item()
        base = build_model(None).diffusion_loss(images, prompts, t, noise, z0).item()
    assert start == base  # the identity projector is the base model
    for _ in range(50):
        opt.zero_grad()
        model.diffusion_loss(images, prompts, t, noise, z0).backward()
        opt.step()
    with torch.no_grad():
        end = model.diffusion_loss(images, prompts, t, noise, z0).item()
    # end / start over noise seeds 0-4 x 1 and 2 threads: CLP 0.894-0.918, WiCLP 0.832-0.850;
    # threshold 0.99 leaves a margin of 0.07 over the worst run (the conftest fixes 1 thread)
    assert end <= 0.99 * start, (start, end)


def test_v_prediction_target():
    from diffusers import DDPMScheduler

    from fw_wiclp.loss import DiffusionLoss

    s = DDPMScheduler(
        beta_schedule='scaled_linear',
        beta_start=0.00085,
        beta_end=0.012,
        prediction_type='v_prediction',
    )
    z0, eps = torch.randn(3, 4, 8, 8), torch.randn(3, 4, 8, 8)
    t = torch.tensor([0, 500, 999])
    abar = s.alphas_cumprod[t].view(-1, 1, 1, 1)
    expected = abar.sqrt() * eps - (1 - abar).sqrt() * z0
    assert (DiffusionLoss().target(s, z0, eps, t) - expected).abs().max() <= 1e-6
    assert torch.equal(DiffusionLoss('epsilon').target(s, z0, eps, t), eps)
