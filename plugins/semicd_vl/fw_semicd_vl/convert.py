"""Deep-stem ResNet (UniMatch ``resnet50.pth``) -> mmseg ``ResNetV1c`` state dict, by position.

Both nets register their tensors in the same order (stem conv/BN ×3, then per block conv1, bn1,
conv2,
bn2, conv3, bn3, downsample conv/BN). ``num_batches_tracked`` and ``fc.*`` are dropped; the counts
must agree and every shape must match, else FwError.
"""

from __future__ import annotations

from framework import FwError


def _keep(k):
    return not k.endswith('num_batches_tracked') and not k.startswith('fc.')


def convert_state_dict(src, template):
    """src, template: state dicts. Returns a dict with template's keys and src's tensors."""
    s = [(k, v) for k, v in src.items() if _keep(k)]
    t = [(k, v) for k, v in template.items() if _keep(k)]
    if len(s) != len(t):
        raise FwError(
            f'source has {len(s)} tensors, ResNetV1c expects {len(t)}: not the same architecture'
        )
    out = {}
    for (ks, vs), (kt, vt) in zip(s, t):
        if tuple(vs.shape) != tuple(vt.shape):
            raise FwError(
                f'shape mismatch: source {ks} {tuple(vs.shape)} vs ResNetV1c {kt} {tuple(vt.shape)}'
            )
        out[kt] = vs.clone()
    return out


def convert_file(src, dst, depth=50):
    import torch

    from framework import MODELS, load_checkpoint

    net = MODELS.build(
        dict(
            type='mmseg.ResNetV1c',
            depth=depth,
            stem_channels=128 if depth >= 50 else 64,
            strides=(1, 2, 2, 1),
            dilations=(1, 1, 1, 2),
            contract_dilation=True,
        )
    )
    sd = load_checkpoint(src, map_location='cpu')  # weights only: a file from elsewhere
    sd = sd.get('state_dict', sd.get('model', sd)) if isinstance(sd, dict) else sd
    sd = {k[len('module.') :] if k.startswith('module.') else k: v for k, v in sd.items()}
    out = convert_state_dict(sd, net.state_dict())
    net.load_state_dict(out, strict=False)
    torch.save({'state_dict': out, 'meta': {'converted_from': str(src)}}, dst)
    return len(out)
