"""Building blocks of DAMO-YOLO : plain torch, no mmdet needed.

All BatchNorms use eps 1e-3 / momentum 0.03 like the official ``Detector.init_bn``.
"""

import torch
import torch.nn as nn

BN_EPS = 1e-3
BN_MOMENTUM = 0.03


def make_act(act):
    """'relu' | 'silu' | 'identity' (or None) -> module."""
    if act is None or act in ('identity', 'none'):
        return nn.Identity()
    if act == 'relu':
        return nn.ReLU(inplace=True)
    if act in ('silu', 'swish'):
        return nn.SiLU(inplace=True)
    raise ValueError(f"unknown activation {act!r}; use 'relu', 'silu' or 'identity'")


def make_bn(c):
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


class ConvBNAct(nn.Module):
    """``k`` x ``k`` conv with stride ``s`` (pad k//2, no bias, ``cin`` -> ``cout`` channels) ->
    BN -> ``act``. ``fuse()`` folds the BN into the conv."""

    def __init__(self, cin, cout, k=1, s=1, act='relu'):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, k // 2, bias=False)
        self.bn = make_bn(cout)
        self.act = make_act(act)

    def forward(self, x):
        if self.bn is None:
            return self.act(self.conv(x))
        return self.act(self.bn(self.conv(x)))

    @torch.no_grad()
    def fuse(self):
        """Fold BN into the conv (optional deploy step; the paper's counts keep BN)."""
        if self.bn is None:
            return
        w, b = fuse_conv_bn(self.conv.weight, self.bn)
        conv = nn.Conv2d(
            self.conv.in_channels,
            self.conv.out_channels,
            self.conv.kernel_size,
            self.conv.stride,
            self.conv.padding,
            bias=True,
        ).to(w)
        conv.weight.copy_(w)
        conv.bias.copy_(b)
        self.conv, self.bn = conv, None


def fuse_conv_bn(weight, bn):
    """Return (kernel, bias) of conv(weight, no bias) followed by BN in eval mode."""
    std = (bn.running_var + bn.eps).sqrt()
    gamma = bn.weight if bn.weight is not None else torch.ones_like(std)
    beta = bn.bias if bn.bias is not None else torch.zeros_like(std)
    t = (gamma / std).reshape(-1, 1, 1, 1)
    return weight * t, beta - bn.running_mean * gamma / std


class RepConv(nn.Module):
    """Train: act(BN(conv3x3(x)) + BN(conv1x1(x))), no identity branch.
    Deploy (``switch_to_deploy``): one 3x3 conv with bias, identical outputs in eval mode.

    Args: ``cin``/``cout`` channels, kernel ``k`` (3 only), stride ``s``, activation ``act``;
    ``deploy`` builds the fused single conv directly.
    """

    def __init__(self, cin, cout, k=3, s=1, act='relu', deploy=False):
        super().__init__()
        assert k == 3, 'RepConv is 3x3 + 1x1'
        self.cin, self.cout, self.k, self.s = cin, cout, k, s
        self.act = make_act(act)
        self.deploy = deploy
        if deploy:
            self.rbr_reparam = nn.Conv2d(cin, cout, k, s, k // 2, bias=True)
        else:
            self.rbr_dense = nn.Sequential()
            self.rbr_dense.add_module('conv', nn.Conv2d(cin, cout, k, s, k // 2, bias=False))
            self.rbr_dense.add_module('bn', make_bn(cout))
            self.rbr_1x1 = nn.Sequential()
            self.rbr_1x1.add_module('conv', nn.Conv2d(cin, cout, 1, s, 0, bias=False))
            self.rbr_1x1.add_module('bn', make_bn(cout))

    def forward(self, x):
        if self.deploy:
            return self.act(self.rbr_reparam(x))
        return self.act(self.rbr_dense(x) + self.rbr_1x1(x))

    @torch.no_grad()
    def get_equivalent_kernel_bias(self):
        k3, b3 = fuse_conv_bn(self.rbr_dense.conv.weight, self.rbr_dense.bn)
        k1, b1 = fuse_conv_bn(self.rbr_1x1.conv.weight, self.rbr_1x1.bn)
        return k3 + nn.functional.pad(k1, [1, 1, 1, 1]), b3 + b1

    @torch.no_grad()
    def switch_to_deploy(self):
        if self.deploy:
            return
        k, b = self.get_equivalent_kernel_bias()
        conv = nn.Conv2d(self.cin, self.cout, self.k, self.s, self.k // 2, bias=True).to(k)
        conv.weight.copy_(k)
        conv.bias.copy_(b)
        self.rbr_reparam = conv
        del self.rbr_dense
        del self.rbr_1x1
        self.deploy = True


class Focus(nn.Module):
    """Space-to-depth (stride 2) then a ``k`` x ``k`` ConvBNAct, ``cin`` * 4 -> ``cout``
    channels, activation ``act``."""

    def __init__(self, cin, cout, k=3, act='relu'):
        super().__init__()
        self.conv = ConvBNAct(cin * 4, cout, k, 1, act)

    def forward(self, x):
        tl = x[..., ::2, ::2]
        bl = x[..., 1::2, ::2]
        tr = x[..., ::2, 1::2]
        br = x[..., 1::2, 1::2]
        return self.conv(torch.cat((tl, bl, tr, br), dim=1))


class SPPBottleneck(nn.Module):
    """1x1 ``cin`` -> cin/2, max-pools of ``kernel_sizes`` (5/9/13), concat, 1x1 -> ``cout``.
    ``act`` SiLU regardless of the model's activation (as the official code)."""

    def __init__(self, cin, cout, kernel_sizes=(5, 9, 13), act='silu'):
        super().__init__()
        hidden = cin // 2
        self.conv1 = ConvBNAct(cin, hidden, 1, 1, act)
        self.pools = nn.ModuleList(nn.MaxPool2d(k, 1, k // 2) for k in kernel_sizes)
        self.conv2 = ConvBNAct(hidden * (len(kernel_sizes) + 1), cout, 1, 1, act)

    def forward(self, x):
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [p(x) for p in self.pools], dim=1))


class ResConvBlock(nn.Module):
    """TinyNAS residual block: act(BN(conv1)) -> RepConv(identity act) [+ shortcut if s==1] ->
    act.

    Args: ``cin``/``cout`` channels, bottleneck width ``btn``, stride ``s``, ``block_type``
    (``'k1kx'``: 1x1 then kxk, ``'kxkx'``: kxk twice), ``reparam`` (RepConv or a plain conv for
    the second conv), activation ``act``, kernel ``k``.
    """

    def __init__(self, cin, cout, btn, s=1, block_type='k1kx', reparam=True, act='relu', k=3):
        super().__init__()
        k1 = 1 if block_type == 'k1kx' else k
        assert block_type in ('k1kx', 'kxkx'), block_type
        self.conv1 = ConvBNAct(cin, btn, k1, 1, act)
        if reparam:
            self.conv2 = RepConv(btn, cout, k, s, act='identity')
        else:
            self.conv2 = ConvBNAct(btn, cout, k, s, act='identity')
        self.stride = s
        self.residual_proj = None
        if s == 1 and cin != cout:
            self.residual_proj = ConvBNAct(cin, cout, 1, 1, act='identity')
        self.act = make_act(act)

    def forward(self, x):
        y = self.conv2(self.conv1(x))
        if self.stride == 1:
            y = y + (x if self.residual_proj is None else self.residual_proj(x))
        return self.act(y)


class RepBlock(nn.Module):
    """Official BasicBlock_3x3_Reverse: x + ConvBNAct3x3(h->c)(RepConv(c->h, act)); no act after
    the add. ``c`` channels, hidden width h = ``ratio`` * c, activation ``act``."""

    def __init__(self, c, ratio=1.0, act='relu'):
        super().__init__()
        h = int(c * ratio)
        self.conv2 = RepConv(c, h, 3, 1, act=act)
        self.conv1 = ConvBNAct(h, c, 3, 1, act)

    def forward(self, x):
        return x + self.conv1(self.conv2(x))


class CSPStage(nn.Module):
    """ELAN-style CSP fusion node of the RepGFPN neck: ``cin`` -> ``cout`` channels through ``n``
    RepBlocks of hidden ratio ``ratio``, activation ``act``."""

    def __init__(self, cin, ratio, cout, n, act='relu'):
        super().__init__()
        c_first = cout // 2
        c_mid = cout - c_first
        self.conv1 = ConvBNAct(cin, c_first, 1, 1, act)
        self.conv2 = ConvBNAct(cin, c_mid, 1, 1, act)
        self.convs = nn.Sequential(*[RepBlock(c_mid, ratio, act) for _ in range(n)])
        self.conv3 = ConvBNAct(c_first + n * c_mid, cout, 1, 1, act)

    def forward(self, x):
        outs = [self.conv1(x)]
        y = self.conv2(x)
        for block in self.convs:
            y = block(y)
            outs.append(y)
        return self.conv3(torch.cat(outs, dim=1))
