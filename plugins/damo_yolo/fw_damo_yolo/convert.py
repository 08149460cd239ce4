"""Official DAMO-YOLO checkpoints -> fw/mmdet checkpoints (``fw damo_yolo convert-official``).

The official trainer saves ``{'model': state_dict, 'epoch', 'optimizer', ...}`` (the EMA model
when EMA is on); its detector has the attributes ``backbone``, ``neck`` and ``head``. The names
differ from fw's in a few systematic places, all fixed by :func:`official_to_fw_key`:

* head: ``head.gfl_cls.i`` / ``head.gfl_reg.i`` are fw's ``bbox_head.cls_convs.i`` /
  ``bbox_head.reg_convs.i``; ``head.integral.project`` (the constant 0..16 bins) is not stored.
* ``res`` backbones (T, S): ``backbone.block_list.0`` is the Focus stem, ``block_list.i.block_list.j``
  the j-th block of stage i (the SPP block sits at j=1 of the last stage, as in fw).
* ``csp`` backbones (M, L): ``backbone.csp_stage.0`` is the stem, ``csp_stage.k`` a stage wrapper
  with ``downsampler`` / ``conv_start`` / ``conv_shortcut`` / ``conv_fuse`` / ``convstem.j``
  (fw: ``down`` / ``conv_main`` / ``conv_short`` / ``conv_out`` / ``blocks.j``).
* the TinyNAS conv-BN unit names its layers ``conv1`` / ``bn1`` (fw: ``conv`` / ``bn``).
* neck and RepConv names are the same.

Deploy-form files (``rbr_reparam`` after ``switch_to_deploy``, and optionally conv-BN fused,
``conv.bias`` without ``bn``) are mapped back to fw's training form exactly: the fused kernel
becomes the 3x3 branch, its BN the identity with the fused bias as shift (running_var = 1 - eps,
so sqrt(var + eps) = 1), the 1x1 branch zero. Outputs in eval mode are unchanged (<= 1e-5 rel);
the file then loads strictly into the stock configs (``fw test``, fine-tuning, ``fw damo_yolo
fuse``).
"""

import os
import re

import torch

from framework import FwError, load_checkpoint

from .layers import BN_EPS

# official stage-wrapper names (csp backbones) -> fw's
_CSP_WRAPPER = {
    'downsampler': 'down',
    'conv_start': 'conv_main',
    'conv_shortcut': 'conv_short',
    'conv_fuse': 'conv_out',
}
# the official presets: (config base, backbone variant, stem width, stage-1 bottleneck width)
PRESETS = {
    'T': ('_base_/damo_yolo_t', 'res', 24),
    'S': ('_base_/damo_yolo_s', 'res', 32),
    'M': ('_base_/damo_yolo_m', 'csp', 32),
    'L': ('_base_/damo_yolo_l', 'csp', 32),
}


def official_to_fw_key(key):
    """One official state-dict key -> fw's key (None: a constant fw does not store)."""
    if key.startswith('module.'):  # saved from a DDP wrapper
        key = key[len('module.') :]
    if key == 'head.integral.project':
        return None
    # TinyNAS conv-BN unit: conv1/bn1 leaves
    key = re.sub(r'\.conv1\.(weight|bias)$', r'.conv.\1', key)
    key = key.replace('.bn1.', '.bn.')
    if key.startswith('backbone.block_list.'):  # res variant
        m = re.match(r'backbone\.block_list\.(\d+)\.(.*)$', key)
        i, rest = int(m.group(1)), m.group(2)
        if i == 0:
            return f'backbone.stem.{rest}'
        m = re.match(r'block_list\.(\d+)\.(.*)$', rest)
        if m is None:
            raise FwError(f'official key {key!r}: expected block_list.<i>.block_list.<j>.*')
        return f'backbone.stages.{i - 1}.{m.group(1)}.{m.group(2)}'
    if key.startswith('backbone.csp_stage.'):  # csp variant
        m = re.match(r'backbone\.csp_stage\.(\d+)\.(.*)$', key)
        k, rest = int(m.group(1)), m.group(2)
        if k == 0:
            return f'backbone.stem.{rest}'
        m = re.match(r'convstem\.(\d+)\.(.*)$', rest)
        if m is not None:
            return f'backbone.stages.{k - 1}.blocks.{m.group(1)}.{m.group(2)}'
        name, _, tail = rest.partition('.')
        if name in _CSP_WRAPPER:  # ConvKXBNRELU wraps its conv-BN unit as ``.conv``
            if not tail.startswith('conv.'):
                raise FwError(f'official key {key!r}: expected {name}.conv.*')
            return f'backbone.stages.{k - 1}.{_CSP_WRAPPER[name]}.{tail[len("conv.") :]}'
        return f'backbone.stages.{k - 1}.{rest}'
    if key.startswith('head.'):
        key = 'bbox_head.' + key[len('head.') :]
        key = key.replace('bbox_head.gfl_cls.', 'bbox_head.cls_convs.')
        return key.replace('bbox_head.gfl_reg.', 'bbox_head.reg_convs.')
    return key  # neck.*: same names


def official_state_dict(ckpt):
    """The model state dict inside an official checkpoint object."""
    if isinstance(ckpt, dict):
        for key in ('model', 'state_dict', 'ema'):
            if isinstance(ckpt.get(key), dict):
                return ckpt[key]
        if ckpt and all(torch.is_tensor(v) for v in ckpt.values()):
            return ckpt
    raise FwError(
        "not an official DAMO-YOLO checkpoint: expected a dict with a 'model' state dict "
        '(as tools/train.py of the official code saves), or a bare state dict'
    )


def _identity_bn(prefix, shift, eps):
    n = shift.numel()
    return {
        f'{prefix}.weight': torch.ones(n, dtype=shift.dtype),
        f'{prefix}.bias': shift.clone(),
        f'{prefix}.running_mean': torch.zeros(n, dtype=shift.dtype),
        f'{prefix}.running_var': torch.full((n,), 1.0 - eps, dtype=shift.dtype),
        f'{prefix}.num_batches_tracked': torch.tensor(0),
    }


def unfuse_to_training_form(state, eps=BN_EPS):
    """Deploy-form keys -> training form with the same eval-mode function (see module doc).
    Returns (state, number of RepConvs unfused, number of conv-BN units unfused)."""
    out, n_rep, n_bn = {}, 0, 0
    for key, value in state.items():
        if key.endswith('.rbr_reparam.weight'):
            p = key[: -len('.rbr_reparam.weight')]
            bias = state.get(f'{p}.rbr_reparam.bias')
            bias = torch.zeros(value.shape[0], dtype=value.dtype) if bias is None else bias
            out[f'{p}.rbr_dense.conv.weight'] = value
            out.update(_identity_bn(f'{p}.rbr_dense.bn', bias, eps))
            out[f'{p}.rbr_1x1.conv.weight'] = value.new_zeros(*value.shape[:2], 1, 1)
            out.update(_identity_bn(f'{p}.rbr_1x1.bn', torch.zeros_like(bias), eps))
            n_rep += 1
        elif key.endswith('.rbr_reparam.bias'):
            continue
        elif key.endswith('.conv.bias') and f'{key[: -len(".conv.bias")]}.bn.weight' not in state:
            p = key[: -len('.conv.bias')]
            if p.startswith('bbox_head.'):
                out[key] = value
                continue
            out.update(_identity_bn(f'{p}.bn', value, eps))
            n_bn += 1
        else:
            out[key] = value
    return out, n_rep, n_bn


def map_official(state):
    """Official state dict -> (fw state dict in training form, info dict)."""
    fw_state = {}
    deploy = any('rbr_reparam' in k for k in state)
    for key, value in state.items():
        new = official_to_fw_key(key)
        if new is None:
            if not torch.allclose(value.float(), torch.arange(value.numel()).float()):
                raise FwError(f'{key!r} is not 0..{value.numel() - 1}: not a DAMO-YOLO head')
            continue
        if new in fw_state:
            raise FwError(f'two official keys map to {new!r}; is this a DAMO-YOLO checkpoint?')
        fw_state[new] = value
    fw_state, n_rep, n_bn = unfuse_to_training_form(fw_state)
    return fw_state, dict(
        source_form='deploy' if deploy else 'train', unfused_repconv=n_rep, unfused_conv_bn=n_bn
    )


def detect_arch(fw_state):
    """The preset (T, S, M, L) whose structure the mapped state dict has, and its class count."""
    cls_w = fw_state.get('bbox_head.cls_convs.0.weight')
    stem = fw_state.get('backbone.stem.conv.conv.weight')
    if cls_w is None or stem is None:
        raise FwError(
            'the checkpoint has no head.gfl_cls.0.weight / Focus stem weight: not an official '
            'DAMO-YOLO T/S/M/L checkpoint (pass --config for other structures)'
        )
    variant = 'csp' if any(k.startswith('backbone.stages.0.down.') for k in fw_state) else 'res'
    names = [a for a, (_, v, c) in PRESETS.items() if v == variant and c == stem.shape[0]]
    if variant == 'csp':  # M and L differ in the stage-1 bottleneck width (64 vs 96)
        btn = fw_state['backbone.stages.0.blocks.0.conv1.conv.weight'].shape[0]
        names = ['M'] if btn == 64 else ['L'] if btn == 96 else []
    if len(names) != 1:
        raise FwError(
            f'cannot tell the DAMO-YOLO size from the checkpoint (variant {variant}, stem '
            f'{stem.shape[0]} channels); pass --config with the matching fw config'
        )
    return names[0], int(cls_w.shape[0])


def convert_official(checkpoint, out, config=None):
    """Read an official checkpoint (a local file), map it onto fw's modules, load it strictly,
    write ``{'state_dict', 'meta'}`` (weights only) to ``out``. Returns an info dict."""
    from .detector import build_model

    if not os.path.isfile(str(checkpoint)):
        raise FwError(f'official checkpoint {checkpoint!r} does not exist (nothing downloads)')
    ckpt = load_checkpoint(str(checkpoint), map_location='cpu')  # weights only
    fw_state, info = map_official(official_state_dict(ckpt))
    arch, num_classes = detect_arch(fw_state)
    model = build_model(config or PRESETS[arch][0], num_classes=num_classes).eval()
    expected = model.state_dict()
    missing = sorted(set(expected) - set(fw_state))
    unexpected = sorted(set(fw_state) - set(expected))
    bad = [k for k in expected if k in fw_state and fw_state[k].shape != expected[k].shape]
    if missing or unexpected or bad:
        raise FwError(
            f'{checkpoint!r} does not match DAMO-YOLO-{arch} ({num_classes} classes): '
            f'{len(missing)} missing keys {missing[:3]}, {len(unexpected)} unexpected '
            f'{unexpected[:3]}, {len(bad)} shape mismatches {bad[:3]}'
        )
    model.load_state_dict(fw_state, strict=True)
    meta = dict(
        info,
        arch=arch,
        num_classes=num_classes,
        config=str(config or PRESETS[arch][0]),
        converted_from=os.path.basename(str(checkpoint)),
    )
    os.makedirs(os.path.dirname(os.path.abspath(str(out))), exist_ok=True)
    torch.save({'state_dict': model.state_dict(), 'meta': meta}, str(out))
    return dict(
        meta, out=str(out), params_m=round(sum(v.numel() for v in model.parameters()) / 1e6, 3)
    )
