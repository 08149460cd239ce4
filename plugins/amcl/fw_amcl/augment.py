"""Batched tensor augmentations, applied inside the model so both views of a batch cost one pass.

``AugFamily`` is the paper's CIFAR family a-e (torch only, no torchvision needed); ``DigitAugment`` is the
CPU protocol for MNIST-5k and the 8x8 digits (random affine, intensity scaling, pixel dropout, noise).
Inputs are float images in [0, 1], [B, C, H, W]. Each module's ``normalize`` is what evaluation applies.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _u(n: int, lo: float, hi: float, device) -> torch.Tensor:
    return torch.empty(n, device=device).uniform_(lo, hi)


def _coin(n: int, p: float, device) -> torch.Tensor:
    return torch.rand(n, device=device) < p


def _warp(x: torch.Tensor, theta: torch.Tensor, size=None) -> torch.Tensor:
    size = size or x.shape[-2:]
    grid = F.affine_grid(theta, [x.shape[0], x.shape[1], *size], align_corners=False)
    return F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros', align_corners=False)


def _gray(x: torch.Tensor) -> torch.Tensor:
    w = x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


class AugFamily(nn.Module):
    """Augmentation families of the paper ("acde" by default, ablations "a", "ab", ...; paper Sec. 5):

    a RandomResizedCrop(size, scale 0.08-1, ratio 3/4-4/3); b Gaussian blur p 0.5, kernel ~0.1*size (odd),
    sigma U[0.1, 2]; c grayscale p 0.2; d ColorJitter(0.4, 0.4, 0.4, 0.1) p 0.8; e horizontal flip p 0.5.
    Then ImageNet mean/std. Differences from torchvision: the jitter order is fixed (brightness, contrast,
    saturation, hue) and hue is a rotation in YIQ space, both batched.

    Args: ``spec`` (letters of the families, "acde"), ``size`` (crop size, 32), ``mean`` and ``std``
    (normalisation, ImageNet's).
    """

    def __init__(self, spec: str = 'acde', size: int = 32, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        unknown = set(spec) - set('abcde')
        if unknown:
            raise ValueError(
                f"unknown augmentation families {sorted(unknown)} in '{spec}'; use letters a-e"
            )
        self.spec, self.size = spec, size
        self.register_buffer('mean', torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def _crop(self, x):
        n, dev = x.shape[0], x.device
        area = _u(n, 0.08, 1.0, dev)
        logr = _u(n, math.log(3 / 4), math.log(4 / 3), dev)
        w = torch.sqrt(area * torch.exp(logr)).clamp(max=1.0)
        h = torch.sqrt(area / torch.exp(logr)).clamp(max=1.0)
        cx = (torch.rand(n, device=dev) * 2 - 1) * (1 - w)
        cy = (torch.rand(n, device=dev) * 2 - 1) * (1 - h)
        theta = torch.zeros(n, 2, 3, device=dev)
        theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = w, cx, h, cy
        return _warp(x, theta, (self.size, self.size))

    def _blur(self, x):
        n, c, hgt, wid = x.shape
        k = max(3, int(0.1 * self.size) // 2 * 2 + 1)
        sigma = _u(n, 0.1, 2.0, x.device).view(n, 1)
        r = torch.arange(k, device=x.device, dtype=x.dtype) - k // 2
        g = torch.exp(-(r.view(1, -1) ** 2) / (2 * sigma**2))
        g = g / g.sum(1, keepdim=True)  # [n, k]
        kern = g.repeat_interleave(c, 0)  # [n*c, k]
        y = x.reshape(1, n * c, hgt, wid)
        y = F.conv2d(
            F.pad(y, (k // 2, k // 2, 0, 0), mode='reflect'),
            kern.view(n * c, 1, 1, k),
            groups=n * c,
        )
        y = F.conv2d(
            F.pad(y, (0, 0, k // 2, k // 2), mode='reflect'),
            kern.view(n * c, 1, k, 1),
            groups=n * c,
        )
        return y.view(n, c, hgt, wid)

    @staticmethod
    def _jitter(x, b=0.4, c=0.4, s=0.4, h=0.1):
        n, dev = x.shape[0], x.device
        x = x * _u(n, 1 - b, 1 + b, dev).view(n, 1, 1, 1)
        m = _gray(x).mean((1, 2, 3), keepdim=True)
        x = (m + (x - m) * _u(n, 1 - c, 1 + c, dev).view(n, 1, 1, 1)).clamp(0, 1)
        g = _gray(x)
        x = (g + (x - g) * _u(n, 1 - s, 1 + s, dev).view(n, 1, 1, 1)).clamp(0, 1)
        ang = _u(n, -h, h, dev) * 2 * math.pi
        to_yiq = x.new_tensor(
            [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]]
        )
        yiq = torch.einsum('ij,njhw->nihw', to_yiq, x)
        cos, sin = torch.cos(ang).view(n, 1, 1), torch.sin(ang).view(n, 1, 1)
        i, q = yiq[:, 1], yiq[:, 2]
        yiq = torch.stack([yiq[:, 0], cos * i - sin * q, sin * i + cos * q], 1)
        return torch.einsum('ij,njhw->nihw', torch.linalg.inv(to_yiq), yiq).clamp(0, 1)

    @staticmethod
    def _where(mask, a, b):
        return torch.where(mask.view(-1, 1, 1, 1), a, b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, dev = x.shape[0], x.device
        x = x.float()
        if 'a' in self.spec:
            x = self._crop(x)
        elif x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode='bilinear', align_corners=False)
        if 'd' in self.spec and x.shape[1] == 3:
            x = self._where(_coin(n, 0.8, dev), self._jitter(x), x)
        if 'c' in self.spec and x.shape[1] == 3:
            x = self._where(_coin(n, 0.2, dev), _gray(x).expand_as(x), x)
        if 'b' in self.spec:
            x = self._where(_coin(n, 0.5, dev), self._blur(x), x)
        if 'e' in self.spec:
            x = self._where(_coin(n, 0.5, dev), x.flip(-1), x)
        return self.normalize(x)


class DigitAugment(nn.Module):
    """CPU protocol for grey digits: random affine (rotation +-15 deg, scale +-10%, translation +-1 px),
    intensity x U[0.6, 1.4], pixel dropout 15%, Gaussian noise std 0.1 (all batched).

    Args: ``rotation`` (degrees, 15), ``scale`` (0.1), ``translate_px`` (1.0), ``intensity`` ((0.6, 1.4)),
    ``dropout`` (0.15), ``noise`` (0.1).
    """

    def __init__(
        self,
        rotation: float = 15.0,
        scale: float = 0.1,
        translate_px: float = 1.0,
        intensity=(0.6, 1.4),
        dropout: float = 0.15,
        noise: float = 0.1,
    ):
        super().__init__()
        self.rotation, self.scale, self.translate_px = rotation, scale, translate_px
        self.intensity, self.dropout, self.noise = tuple(intensity), dropout, noise

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return x.float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        n, dev, size = x.shape[0], x.device, x.shape[-1]
        ang = _u(n, -self.rotation, self.rotation, dev) * math.pi / 180
        sc = _u(n, 1 - self.scale, 1 + self.scale, dev)
        t = self.translate_px * 2.0 / size
        theta = torch.zeros(n, 2, 3, device=dev)
        theta[:, 0, 0], theta[:, 0, 1] = torch.cos(ang) / sc, -torch.sin(ang) / sc
        theta[:, 1, 0], theta[:, 1, 1] = torch.sin(ang) / sc, torch.cos(ang) / sc
        theta[:, :, 2] = torch.empty(n, 2, device=dev).uniform_(-t, t)
        x = _warp(x, theta)
        x = x * _u(n, *self.intensity, dev).view(n, 1, 1, 1)
        x = x * (torch.rand_like(x) >= self.dropout)
        return x + self.noise * torch.randn_like(x)
