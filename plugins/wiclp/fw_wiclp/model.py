"""Frozen text-to-image model + trainable projector on its text embeddings (paper, Sec. 5).

``mode='loss'``: the diffusion loss of :mod:`fw_wiclp.loss` with c = P(CLIP(p)); only the
projector is trainable (UNet, VAE and text encoder are frozen and live outside ``parameters()``
and the checkpoint), while gradients flow through the frozen UNet into c. No caption dropout and
no unconditional training go through the projector.
``mode='predict'``: images for the batch's prompts with the switch-off rule of
:mod:`fw_wiclp.sampling`, one seeded noise per image (so arms are paired).
"""

from __future__ import annotations

import torch
from mmengine.model import BaseModel

from framework import MODELS, FwError

from .diffusion import Frozen
from .sampling import encode_prompts, make_pipeline, sample_reference, sample_with_pipeline

DEFAULT_SAMPLING = dict(
    num_inference_steps=25,
    guidance_scale=7.5,
    switch_off_t=-1,
    sampler=None,
    engine='auto',
    height=None,
    width=None,
)


class ProjectedDiffusion(BaseModel):
    """A frozen diffusion model conditioned on P(CLIP(p)).

    Args:
        diffusion (dict): config of the frozen parts (``wiclp.LocalStableDiffusion``,
            ``wiclp.TinyStableDiffusion`` or ``wiclp.ShapesDiffusion``).
        projector (dict | None): ``wiclp.CLP``, ``wiclp.WiCLP``, ``wiclp.LinearSkip`` or
            ``wiclp.MLPSkip``; None is the base model (no projection).
        loss (dict): the diffusion loss (``wiclp.DiffusionLoss``).
        train_unet (bool): train the UNet instead (stage A of the shapes experiment, which has
            no pretrained model to start from); requires ``projector=None``.
        sampling (dict): ``num_inference_steps`` (25), ``guidance_scale`` (7.5), ``switch_off_t``
            (T_s, -1 = projection always on), ``sampler`` (None: the parts' default),
            ``engine`` (``'pipeline'``: diffusers' StableDiffusionPipeline, ``'loop'``: the
            reference loop, ``'auto'``: the pipeline when there is a VAE), ``height``/``width``.
        data_preprocessor (dict | None): mmengine data preprocessor (moves the batch to device).
    """

    def __init__(
        self,
        diffusion: dict,
        projector: dict | None = None,
        loss: dict | None = None,
        train_unet: bool = False,
        sampling: dict | None = None,
        data_preprocessor: dict | None = None,
    ):
        super().__init__(data_preprocessor=data_preprocessor)
        self.parts = MODELS.build(diffusion)
        self.projector = MODELS.build(projector) if projector else None
        self.loss_fn = MODELS.build(loss or dict(type='wiclp.DiffusionLoss'))
        unknown = set(sampling or {}) - set(DEFAULT_SAMPLING)
        if unknown:
            raise FwError(
                f'model.sampling has unknown keys {sorted(unknown)}; expected '
                f'{", ".join(DEFAULT_SAMPLING)}'
            )
        self.sampling = dict(DEFAULT_SAMPLING, **(sampling or {}))
        d = self.parts.embed_dim
        if self.projector is not None and getattr(self.projector, 'dim', d) != d:
            raise FwError(
                f'projector dim={self.projector.dim} but the text encoder gives d={d}; '
                f'set model.projector.dim={d}'
            )
        if train_unet and self.projector is not None:
            raise FwError('train_unet=True trains the base UNet (stage A); set projector=None')
        self.train_unet = train_unet
        if train_unet:
            self.unet = self.parts.unet.requires_grad_(True).train()
        else:
            self.unet = Frozen(self.parts.unet)
        self.text_encoder = Frozen(self.parts.text_encoder)
        self.vae = Frozen(self.parts.vae) if self.parts.vae is not None else None

    # --- conditioning ---------------------------------------------------------------------
    def encode(self, prompts) -> torch.Tensor:
        """CLIP(p) for every prompt: [B, T, d] (frozen, no gradient)."""
        with torch.no_grad():
            return encode_prompts(
                self.parts.text_encoder, self.parts.tokenizer, prompts, self._device()
            )

    def project(self, embeds: torch.Tensor) -> torch.Tensor:
        """P(x) in float32 (the identity without a projector), cast to the UNet's dtype."""
        if self.projector is None:
            return embeds
        return self.projector(embeds.float()).to(self.parts.unet.dtype)

    def _device(self):
        return next(self.parts.unet.parameters()).device

    # --- training -------------------------------------------------------------------------
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """z0 = s_vae * VAE.encode(I).sample() (pixel space: the image itself, in [-1, 1])."""
        if self.vae is None:
            return images
        vae = self.parts.vae
        with torch.no_grad():
            z = vae.encode(images.to(vae.dtype)).latent_dist.sample()
        return z * vae.config.scaling_factor

    def diffusion_loss(
        self, images: torch.Tensor, prompts, timesteps=None, noise=None, latents=None
    ):
        """The loss of one batch; ``timesteps``, ``noise`` and ``latents`` (z0) may be fixed."""
        scheduler = self.parts.noise_scheduler
        z0 = self.encode_images(images) if latents is None else latents
        noise = torch.randn_like(z0) if noise is None else noise
        if timesteps is None:
            timesteps = torch.randint(
                0, scheduler.config.num_train_timesteps, (z0.shape[0],), device=z0.device
            )
        z_t = scheduler.add_noise(z0, noise, timesteps)
        cond = self.project(self.encode(prompts))
        prediction = self.unet(z_t, timesteps, encoder_hidden_states=cond).sample
        return self.loss_fn(prediction, self.loss_fn.target(scheduler, z0, noise, timesteps))

    # --- sampling ---------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, prompts, noise_seeds, project: bool = True, **overrides) -> torch.Tensor:
        """Images in [0, 1], [len(prompts), 3, H, W]; image i starts from seed ``noise_seeds[i]``."""
        opts = dict(self.sampling, **overrides)
        device = self._device()
        clean = self.encode(prompts)
        negative = self.encode([''] * len(prompts))
        projected = self.project(clean) if (project and self.projector is not None) else None
        generators = [torch.Generator(device).manual_seed(int(s)) for s in noise_seeds]
        scheduler = self.parts.make_sampler(opts['sampler'])
        engine = opts['engine']
        if engine == 'auto':
            engine = 'pipeline' if self.parts.vae is not None else 'loop'
        common = dict(
            switch_off_t=opts['switch_off_t'],
            guidance_scale=opts['guidance_scale'],
            num_inference_steps=opts['num_inference_steps'],
            height=opts['height'],
            width=opts['width'],
            generator=generators,
        )
        if engine == 'pipeline':
            if self.parts.vae is None:
                raise FwError("sampling.engine='pipeline' needs a VAE; use engine='loop'")
            pipe = make_pipeline(self.parts, scheduler)
            return sample_with_pipeline(
                pipe, clean, negative, projected, output_type='pt', **common
            ).images
        if engine != 'loop':
            raise FwError(f"sampling.engine='{engine}'; expected auto, pipeline or loop")
        return sample_reference(
            self.parts.unet, scheduler, clean, negative, projected, vae=self.parts.vae, **common
        )

    # --- mmengine ---------------------------------------------------------------------------
    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        samples = unbatch(data_samples, len(inputs))
        prompts = [s['prompt'] for s in samples]
        if mode == 'loss':
            return {'loss': self.diffusion_loss(inputs, prompts)}
        if mode == 'predict':
            seeds = [int(s) for s in inputs]
            images = self.generate(prompts, seeds)
            return [dict(s, image=img.float().cpu()) for s, img in zip(samples, images)]
        if mode == 'tensor':
            return self.project(self.encode(prompts))
        raise FwError(f"mode='{mode}'; expected loss, predict or tensor")


def unbatch(data_samples, size: int) -> list[dict]:
    """``default_collate``'s dict of batched fields -> one dict per sample (tensors as lists)."""
    if data_samples is None:
        return [{} for _ in range(size)]
    if isinstance(data_samples, (list, tuple)):
        return list(data_samples)
    fields = {k: v.tolist() if torch.is_tensor(v) else list(v) for k, v in data_samples.items()}
    return [{k: v[i] for k, v in fields.items()} for i in range(size)]
