"""Sampling with a projector: classifier-free guidance and the switch-off threshold.

With guidance scale g, eps_hat = eps_u + g (eps_c - eps_u) (g = 7.5, 25 PNDM steps in the authors'
evaluation). The unconditional branch always uses the raw CLIP("") embedding, never projected. The
conditional branch uses P(CLIP(p)) while the timestep t > T_s and the raw CLIP(p) once t <= T_s
(T_s = -1: the projection is always on), so the projection shapes only the early, high-noise steps
where the layout is decided. The rule is on the timestep *value*, so a sampler that repeats a
timestep (PNDM) is handled.

Two implementations of the same rule: :func:`sample_with_pipeline` drives diffusers' stock
``StableDiffusionPipeline`` through ``prompt_embeds`` and ``callback_on_step_end``;
:func:`sample_reference` is a plain loop (also used in pixel space, where there is no VAE).
"""

from __future__ import annotations

import copy
import inspect

import torch


def use_projection(t, switch_off_t: int) -> bool:
    """The conditional branch is projected at timestep value ``t`` iff t > T_s."""
    return int(t) > switch_off_t


def repeat_per_image(embeds: torch.Tensor, n: int) -> torch.Tensor:
    """Repeat [B, T, d] to [B * n, T, d] exactly as the pipeline does for num_images_per_prompt."""
    b, t, d = embeds.shape
    return embeds.repeat(1, n, 1).view(b * n, t, d)


def encode_prompts(text_encoder, tokenizer, prompts, device=None) -> torch.Tensor:
    """CLIP(p): the text encoder's ``last_hidden_state`` over all padded positions, no mask."""
    ids = tokenizer(
        list(prompts),
        padding='max_length',
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors='pt',
    ).input_ids
    device = device or next(text_encoder.parameters()).device
    return text_encoder(ids.to(device))[0]


def _step_kwargs(scheduler, generator, eta: float = 0.0) -> dict:
    params = set(inspect.signature(scheduler.step).parameters)
    kwargs = {}
    if 'eta' in params:
        kwargs['eta'] = eta
    if 'generator' in params:
        kwargs['generator'] = generator
    return kwargs


def planned_timesteps(scheduler, steps: int, device=None) -> torch.Tensor:
    """The timesteps a sampler will visit, computed on a copy (the original is untouched)."""
    planner = copy.deepcopy(scheduler)
    planner.set_timesteps(steps, device=device)
    return planner.timesteps


def sample_with_pipeline(
    pipe,
    clean: torch.Tensor,
    negative: torch.Tensor,
    projected: torch.Tensor | None,
    switch_off_t: int = -1,
    num_images_per_prompt: int = 1,
    num_inference_steps: int = 25,
    guidance_scale: float = 7.5,
    **kwargs,
):
    """Run ``pipe`` (a ``StableDiffusionPipeline``) with the switch-off rule; returns its output.

    ``clean``/``negative``/``projected`` are [B, T, d] embeddings (``projected=None``: the
    baseline). ``callback_on_step_end`` runs after step i, so it decides for step i + 1; the
    first step's embedding is chosen before the call.
    """
    if projected is None:
        projected = clean
    n = num_images_per_prompt
    clean_rep, neg_rep = repeat_per_image(clean, n), repeat_per_image(negative, n)
    timesteps = planned_timesteps(pipe.scheduler, num_inference_steps, clean.device)
    first = projected if use_projection(timesteps[0], switch_off_t) else clean

    def on_step_end(pipeline, i, t, callback_kwargs):
        if i + 1 < len(timesteps) and not use_projection(timesteps[i + 1], switch_off_t):
            if guidance_scale > 1:
                callback_kwargs['prompt_embeds'] = torch.cat([neg_rep, clean_rep])
            else:
                callback_kwargs['prompt_embeds'] = clean_rep
        return callback_kwargs

    return pipe(
        prompt_embeds=first,
        negative_prompt_embeds=negative,
        num_images_per_prompt=n,
        num_inference_steps=num_inference_steps,
        guidance_scale=guidance_scale,
        callback_on_step_end=on_step_end,
        callback_on_step_end_tensor_inputs=['prompt_embeds'],
        **kwargs,
    )


@torch.no_grad()
def sample_reference(
    unet,
    scheduler,
    clean: torch.Tensor,
    negative: torch.Tensor,
    projected: torch.Tensor | None,
    switch_off_t: int = -1,
    vae=None,
    num_inference_steps: int = 25,
    guidance_scale: float = 7.5,
    height: int | None = None,
    width: int | None = None,
    generator=None,
    num_images_per_prompt: int = 1,
    eta: float = 0.0,
) -> torch.Tensor:
    """The same rule as a plain loop; images in [0, 1], [B * n, 3, H, W].

    Follows the pipeline's arithmetic step by step (noise, CFG batch order [uncond; cond], scheduler
    calls, decoding), so with a VAE it reproduces ``sample_with_pipeline`` exactly.
    """
    from diffusers.utils.torch_utils import randn_tensor

    if projected is None:
        projected = clean
    n = num_images_per_prompt
    clean, negative = repeat_per_image(clean, n), repeat_per_image(negative, n)
    projected = repeat_per_image(projected, n)
    dtype, device = unet.dtype, clean.device
    clean, negative, projected = (x.to(dtype) for x in (clean, negative, projected))
    scale = 2 ** (len(vae.config.block_out_channels) - 1) if vae is not None else 1
    height = height or unet.config.sample_size * scale
    width = width or unet.config.sample_size * scale
    scheduler = copy.deepcopy(scheduler)
    scheduler.set_timesteps(num_inference_steps, device=device)
    shape = (clean.shape[0], unet.config.in_channels, height // scale, width // scale)
    latents = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
    latents = latents * scheduler.init_noise_sigma
    extra = _step_kwargs(scheduler, generator, eta)
    cfg = guidance_scale > 1
    for t in scheduler.timesteps:
        cond = projected if use_projection(t, switch_off_t) else clean
        embeds = torch.cat([negative, cond]) if cfg else cond
        model_input = torch.cat([latents] * 2) if cfg else latents
        model_input = scheduler.scale_model_input(model_input, t)
        eps = unet(
            model_input,
            t,
            encoder_hidden_states=embeds,
            timestep_cond=None,
            cross_attention_kwargs=None,
            added_cond_kwargs=None,
            return_dict=False,
        )[0]
        if cfg:
            eps_u, eps_c = eps.chunk(2)
            eps = eps_u + guidance_scale * (eps_c - eps_u)
        latents = scheduler.step(eps, t, latents, **extra, return_dict=False)[0]
    if vae is not None:
        latents = vae.decode(
            latents / vae.config.scaling_factor, return_dict=False, generator=generator
        )[0]
    return (latents / 2 + 0.5).clamp(0, 1)


def make_pipeline(parts, scheduler=None):
    """diffusers' stock ``StableDiffusionPipeline`` around frozen parts (no safety checker)."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline(
        vae=parts.vae,
        text_encoder=parts.text_encoder,
        tokenizer=getattr(parts, 'tokenizer', None)
        if hasattr(parts.tokenizer, 'save_pretrained')
        else None,
        unet=parts.unet,
        scheduler=scheduler or parts.make_sampler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe
