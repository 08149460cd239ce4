"""The frozen text-to-image model a projector is trained on: UNet, VAE, text encoder, schedulers.

Three sources, each a registered component that builds a :class:`DiffusionParts`:

* :class:`LocalStableDiffusion`: a diffusers-layout Stable Diffusion folder on disk (v1.4, v2.1);
* :class:`TinyStableDiffusion`: SD's architecture at toy width, built from configs (no download);
* :class:`ShapesDiffusion`: the pixel-space model of the coloured-shapes experiment.

The paper trains only the projection; UNet, VAE and text encoder stay frozen (Sec. 5).
"""

from __future__ import annotations

import copy
import warnings
import zlib
from pathlib import Path

import torch
import torch.nn as nn

from framework import FwError

SAMPLERS = ('PNDM', 'DDIM', 'DDPM', 'EulerDiscrete', 'DPMSolverMultistep')


class Frozen(nn.Module):
    """Holds a frozen module outside ``parameters()`` and ``state_dict()``, moved with ``.to()``.

    The optimiser therefore never sees it and checkpoints hold only the trainable part, while
    gradients still flow *through* it to whatever conditions it.
    """

    def __init__(self, module: nn.Module):
        super().__init__()
        module.requires_grad_(False)
        module.eval()
        object.__setattr__(self, 'module', module)

    def _apply(self, fn, recurse=True):
        self.module._apply(fn, recurse)
        return super()._apply(fn, recurse)

    def train(self, mode: bool = True):
        return self  # a frozen module stays in eval mode

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)


class Tokens:
    """What a tokenizer call returns: ``input_ids`` [B, L]."""

    def __init__(self, input_ids: torch.Tensor):
        self.input_ids = input_ids


class WordTokenizer:
    """Whitespace word tokenizer with CLIP's call signature (BOS, words, EOS, then PAD).

    Args:
        vocab (list[str]): known words; ids 0/1/2 are PAD/BOS/EOS, words follow.
        max_length (int): padded length (``model_max_length``).
        vocab_size (int | None): if given, unknown words hash (crc32) into the free ids, so any
            prompt tokenizes (used by the tiny SD model); otherwise an unknown word is an error.
    """

    pad_token_id, bos_token_id, eos_token_id = 0, 1, 2

    def __init__(self, vocab=(), max_length: int = 16, vocab_size: int | None = None):
        self.words = list(vocab)
        self.ids = {w: i + 3 for i, w in enumerate(self.words)}
        self.model_max_length = max_length
        self.vocab_size = vocab_size or len(self.words) + 3

    def word_id(self, word: str) -> int:
        if word in self.ids:
            return self.ids[word]
        free = self.vocab_size - 3 - len(self.words)
        if free <= 0:
            raise FwError(f"word '{word}' is not in the vocabulary ({', '.join(self.words)})")
        return 3 + len(self.words) + zlib.crc32(word.encode()) % free

    def __call__(
        self, prompts, padding='max_length', max_length=None, truncation=True, return_tensors='pt'
    ):
        if isinstance(prompts, str):
            prompts = [prompts]
        length = max_length or self.model_max_length
        rows = []
        for p in prompts:
            ids = [self.word_id(w) for w in p.lower().replace(',', ' ').replace('.', ' ').split()]
            ids = [self.bos_token_id] + ids[: length - 2] + [self.eos_token_id]
            rows.append(ids + [self.pad_token_id] * (length - len(ids)))
        return Tokens(torch.tensor(rows, dtype=torch.long))


class DiffusionParts:
    """UNet, optional VAE (None: pixel space), text encoder, tokenizer and schedulers."""

    unet: nn.Module
    vae: nn.Module | None
    text_encoder: nn.Module
    tokenizer: object
    noise_scheduler: object  # DDPMScheduler of the checkpoint: training noise and targets
    sampler: str = 'PNDM'

    @property
    def prediction_type(self) -> str:
        return self.noise_scheduler.config.prediction_type

    @property
    def embed_dim(self) -> int:
        return self.text_encoder.config.hidden_size

    def make_sampler(self, name: str | None = None):
        """The sampling scheduler (a fresh object) from the checkpoint's scheduler config."""
        import diffusers

        name = name or self.sampler
        if name not in SAMPLERS:
            raise FwError(f"sampler '{name}'; expected one of {', '.join(SAMPLERS)}")
        return getattr(diffusers, f'{name}Scheduler').from_config(self.noise_scheduler.config)

    def freeze(self) -> None:
        for module in (self.unet, self.vae, self.text_encoder):
            if module is not None:
                module.requires_grad_(False)
                module.eval()


def _unet_config(**overrides) -> dict:
    return dict(
        down_block_types=('CrossAttnDownBlock2D', 'DownBlock2D'),
        up_block_types=('UpBlock2D', 'CrossAttnUpBlock2D'),
        **overrides,
    )


class LocalStableDiffusion(DiffusionParts):
    """Stable Diffusion from a local diffusers-layout folder; nothing is downloaded.

    Args:
        model_dir (str): folder with ``unet/``, ``vae/``, ``text_encoder/``, ``tokenizer/`` and
            ``scheduler/`` (SD v1.4: CompVis/stable-diffusion-v1-4; SD v2.1:
            stabilityai/stable-diffusion-2-1, converted to the diffusers layout).
        dtype (str): ``'auto'`` (fp16 on a GPU, fp32 on a CPU), ``'fp32'``, ``'fp16'``, ``'bf16'``
            for the frozen modules; the projector stays fp32.
        sampler (str): sampling scheduler class (``PNDM`` as in the authors' evaluation).
        gradient_checkpointing (bool): UNet gradient checkpointing (``use_reentrant=False``).
    """

    def __init__(
        self,
        model_dir: str,
        dtype: str = 'auto',
        sampler: str = 'PNDM',
        gradient_checkpointing: bool = False,
    ):
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTokenizer

        root = Path(model_dir).expanduser()
        missing = [
            s
            for s in ('unet', 'vae', 'text_encoder', 'tokenizer', 'scheduler')
            if not (root / s).is_dir()
        ]
        if missing:
            raise FwError(
                f"model_dir '{root}' is not a diffusers Stable Diffusion folder: "
                f'missing {", ".join(m + "/" for m in missing)}; put a local copy of the checkpoint '
                f'there (fw never downloads) or fix model_dir in the config'
            )
        torch_dtype = {
            'fp32': torch.float32,
            'fp16': torch.float16,
            'bf16': torch.bfloat16,
            'auto': torch.float16 if torch.cuda.is_available() else torch.float32,
        }
        if dtype not in torch_dtype:
            raise FwError(f"dtype='{dtype}'; expected one of {', '.join(torch_dtype)}")
        kw = dict(local_files_only=True, torch_dtype=torch_dtype[dtype])
        self.unet = UNet2DConditionModel.from_pretrained(root, subfolder='unet', **kw)
        self.vae = AutoencoderKL.from_pretrained(root, subfolder='vae', **kw)
        self.text_encoder = CLIPTextModel.from_pretrained(root, subfolder='text_encoder', **kw)
        self.tokenizer = CLIPTokenizer.from_pretrained(
            root, subfolder='tokenizer', local_files_only=True
        )
        self.noise_scheduler = DDPMScheduler.from_pretrained(root, subfolder='scheduler')
        self.sampler = sampler
        self.make_sampler()  # validate the name now
        self.freeze()
        layers = self.text_encoder.config.num_hidden_layers
        if self.text_encoder.config.hidden_size == 1024 and layers != 23:
            warnings.warn(
                f'{root}: an SD 2.x text encoder in diffusers has 23 layers (OpenCLIP '
                f'ViT-H cut at the penultimate layer); this one has {layers}'
            )
        if gradient_checkpointing:
            # diffusers 0.42 checkpoints whenever grad is enabled (eval mode too), with
            # use_reentrant=False, so gradients still reach the conditioning through frozen blocks
            self.unet.enable_gradient_checkpointing()
        if self.unet.config.cross_attention_dim != self.text_encoder.config.hidden_size:
            raise FwError(
                f'{root}: UNet cross_attention_dim {self.unet.config.cross_attention_dim}'
                f' != text encoder width {self.text_encoder.config.hidden_size}'
            )


class TinyStableDiffusion(DiffusionParts):
    """Stable Diffusion's architecture at toy width, built from configs with a fixed seed.

    Args:
        seed (int): weight initialisation seed.
        embed_dim (int): text width d (CLIP hidden size and UNet cross-attention width).
        sample_size (int): latent side (images are 2x larger: the VAE has two blocks).
        prediction_type (str): ``'epsilon'`` (SD 1.x) or ``'v_prediction'`` (SD 2.x).
        sampler (str): sampling scheduler class.
        max_length (int): tokenizer length (77 in SD).
    """

    def __init__(
        self,
        seed: int = 0,
        embed_dim: int = 32,
        sample_size: int = 32,
        prediction_type: str = 'epsilon',
        sampler: str = 'PNDM',
        max_length: int = 77,
    ):
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        from transformers import CLIPTextConfig, CLIPTextModel

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.unet = UNet2DConditionModel(
                **_unet_config(
                    sample_size=sample_size,
                    in_channels=4,
                    out_channels=4,
                    block_out_channels=(4, 8),
                    layers_per_block=1,
                    cross_attention_dim=embed_dim,
                    norm_num_groups=2,
                    attention_head_dim=2,
                )
            )
            self.vae = AutoencoderKL(
                in_channels=3,
                out_channels=3,
                latent_channels=4,
                block_out_channels=(4, 8),
                down_block_types=('DownEncoderBlock2D',) * 2,
                up_block_types=('UpDecoderBlock2D',) * 2,
                norm_num_groups=2,
                sample_size=2 * sample_size,
            )
            self.text_encoder = CLIPTextModel(
                CLIPTextConfig(
                    vocab_size=1000,
                    hidden_size=embed_dim,
                    intermediate_size=2 * embed_dim,
                    num_hidden_layers=2,
                    num_attention_heads=4,
                    max_position_embeddings=max_length,
                    pad_token_id=0,
                    bos_token_id=1,
                    eos_token_id=2,
                )
            )
        self.tokenizer = WordTokenizer(max_length=max_length, vocab_size=1000)
        self.noise_scheduler = DDPMScheduler.from_config(
            dict(  # SD's scheduler config
                num_train_timesteps=1000,
                beta_start=0.00085,
                beta_end=0.012,
                beta_schedule='scaled_linear',
                steps_offset=1,
                prediction_type=prediction_type,
                clip_sample=False,
                set_alpha_to_one=False,
                skip_prk_steps=True,
            )
        )
        self.sampler = sampler
        self.freeze()


class ShapesDiffusion(DiffusionParts):
    """The pixel-space text-to-image model of the coloured-shapes experiment.

    A frozen, randomly initialised ``CLIPTextModel`` (causal, no attention mask, as in SD) over a
    word tokenizer, and a small ``UNet2DConditionModel`` trained from scratch (stage A) with a
    linear-beta DDPM, epsilon prediction.

    Args:
        res (int): image side in pixels.
        text_seed (int): seed of the frozen text encoder (kept fixed across experiment seeds).
        unet_seed (int): seed of the UNet initialisation (stage A).
        unet_checkpoint (str | None): stage-A UNet weights (a tensor state dict); ``'auto'``: the
            cached stage-A UNet for (res, text_seed, unet_seed, base_steps), trained on first use;
            None leaves the UNet at its initialisation (to be trained by stage A).
        base_steps (int): stage-A training steps (selects the cached UNet).
        prediction_type (str): what the UNet predicts: ``epsilon`` or ``sample`` (x0).
        embed_dim (int): text width d.
        sampler (str): sampling scheduler class (DDIM).
    """

    def __init__(
        self,
        res: int = 16,
        text_seed: int = 0,
        unet_seed: int = 0,
        unet_checkpoint: str | None = None,
        base_steps: int = 4000,
        embed_dim: int = 64,
        sampler: str = 'DDIM',
        prediction_type: str = 'epsilon',
    ):
        from diffusers import DDPMScheduler, UNet2DConditionModel
        from transformers import CLIPTextConfig, CLIPTextModel

        from .shapes import VOCAB

        self.tokenizer = WordTokenizer(VOCAB, max_length=16)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(text_seed)
            self.text_encoder = CLIPTextModel(
                CLIPTextConfig(
                    vocab_size=self.tokenizer.vocab_size,
                    hidden_size=embed_dim,
                    intermediate_size=2 * embed_dim,
                    num_hidden_layers=2,
                    num_attention_heads=4,
                    max_position_embeddings=16,
                    pad_token_id=0,
                    bos_token_id=1,
                    eos_token_id=2,
                )
            )
            torch.manual_seed(unet_seed)
            self.unet = UNet2DConditionModel(
                sample_size=res,
                in_channels=3,
                out_channels=3,
                block_out_channels=(16, 32),
                layers_per_block=1,
                down_block_types=('DownBlock2D', 'CrossAttnDownBlock2D'),
                up_block_types=('CrossAttnUpBlock2D', 'UpBlock2D'),
                cross_attention_dim=embed_dim,
                attention_head_dim=8,
                norm_num_groups=8,
            )
        if unet_checkpoint == 'auto':
            from .cache import cached_base_unet

            unet_checkpoint = cached_base_unet(
                res, text_seed, unet_seed, base_steps, prediction_type
            )
        if unet_checkpoint:
            path = Path(unet_checkpoint).expanduser()
            if not path.is_file():
                raise FwError(
                    f'unet_checkpoint {path} does not exist; train stage A first '
                    f'(`fw train wiclp wiclp_shapes_base_cpu`) or leave it None'
                )
            self.unet.load_state_dict(torch.load(path, map_location='cpu', weights_only=True))
        self.vae = None
        # pixel space: the predicted x0 is clipped to the data range [-1, 1] while sampling (as
        # in DDPM); training is unaffected
        self.noise_scheduler = DDPMScheduler(
            num_train_timesteps=1000,
            beta_schedule='linear',
            prediction_type=prediction_type,
            clip_sample=True,
        )
        self.sampler = sampler
        self.freeze()


def clone_scheduler(scheduler):
    """A copy whose ``set_timesteps`` does not touch the original."""
    return copy.deepcopy(scheduler)
