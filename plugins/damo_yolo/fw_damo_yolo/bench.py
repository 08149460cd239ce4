"""``fw damo_yolo complexity`` and ``fw damo_yolo bench``: deploy-mode parameters and FLOPs of
T/S/M/L, and CPU latency of deployed DAMO-YOLO-T next to mmdet's YOLOX-S, measured side by side."""

import statistics
import time
from pathlib import Path

import torch

from .detector import build_model, count_params, quiet_init

PAPER = {'T': (8.5, 18.1), 'S': (16.3, 37.8), 'M': (28.2, 61.8), 'L': (42.1, 97.3)}
EXPECTED_DEPLOY_PARAMS = {'T': 8.480, 'S': 16.252, 'M': 28.178}


def raw_forward_flops(model, size=640):
    """2 x multiply-accumulates (mmengine's FlopAnalyzer counts MACs) of backbone+neck+head."""
    from mmengine.analysis import FlopAnalyzer

    from .deploy import RawNet

    fa = FlopAnalyzer(RawNet(model).eval(), (torch.zeros(1, 3, size, size),))
    fa.unsupported_ops_warnings(False)
    fa.uncalled_modules_warnings(False)
    by_op = fa.by_operator()
    return 2 * fa.total() / 1e9, 2 * by_op.get('conv', 0) / 1e9


def complexity(size=640, archs=('T', 'S', 'M')):
    """Deploy-mode (RepConv fused, BN kept, as the paper counts) params and GFLOPs of T/S/M."""
    from .deploy import switch_to_deploy

    rows = []
    for a in archs:
        model = switch_to_deploy(build_model(f'_base_/damo_yolo_{a.lower()}').eval())
        gflops, conv_gflops = raw_forward_flops(model, size)
        rows.append(
            {
                'model': f'DAMO-YOLO-{a}',
                'params_m': round(count_params(model) / 1e6, 4),
                'gflops': round(gflops, 3),
                'conv_gflops': round(conv_gflops, 3),
                'input_size': size,
                'paper_params_m': PAPER[a][0],
                'paper_gflops': PAPER[a][1],
            }
        )
    return rows


def yolox_config(name='yolox_s_8xb8-300e_coco.py'):
    """Path of a YOLOX config shipped inside the installed mmdet package."""
    import mmdet

    path = Path(mmdet.__file__).parent / '.mim' / 'configs' / 'yolox' / name
    if not path.is_file():
        raise FileNotFoundError(f"mmdet's own config {path} is missing; reinstall mmdet==3.3.0")
    return str(path)


def build_yolox(name='yolox_s_8xb8-300e_coco.py'):
    """mmdet's own YOLOX model of config ``name``, built in mmdet's scope."""
    from mmdet.registry import MODELS
    from mmengine.config import Config

    from framework import mm_scope

    cfg = Config.fromfile(yolox_config(name))
    with mm_scope('mmdet'):
        model = MODELS.build(cfg.model)
    quiet_init(model)
    return model.eval()


def _time_pair(fns, x, warmup, iters):
    """Interleave the models call by call (fair under shared CPU load); median ms per model."""
    times = [[] for _ in fns]
    with torch.no_grad():
        for _ in range(warmup):
            for f in fns:
                f(x)
        for _ in range(iters):
            for k, f in enumerate(fns):
                t = time.perf_counter()
                f(x)
                times[k].append((time.perf_counter() - t) * 1e3)
    return [statistics.median(t) for t in times]


def bench(sizes=(640, 416), threads=1, warmup=10, iters=30, log=None, with_train_mode=True):
    """Deployed DAMO-YOLO-T vs mmdet YOLOX-S (+ YOLOX-tiny for context), batch 1, forward without
    NMS."""
    from .deploy import deploy_copy

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    damo_train = build_model('_base_/damo_yolo_t').eval()
    damo = deploy_copy(damo_train)
    yolox_s = build_yolox()
    yolox_tiny = build_yolox('yolox_tiny_8xb8-300e_coco.py')
    nets = {'damo_yolo_t': damo, 'yolox_s': yolox_s, 'yolox_tiny': yolox_tiny}
    if with_train_mode:
        nets['damo_yolo_t_train_mode'] = damo_train
    fns = [lambda x, m=m: m._forward(x) for m in nets.values()]
    rows = []
    for s in sizes:
        x = torch.rand(1, 3, s, s) * 255
        fl = {
            k: raw_forward_flops(m, s)[0] if k.startswith('damo') else _yolox_flops(m, s)
            for k, m in nets.items()
            if k != 'damo_yolo_t_train_mode'
        }
        ms = dict(zip(nets, _time_pair(fns, x, warmup, iters)))
        row = {
            'input_size': s,
            'damo_yolo_t_ms': round(ms['damo_yolo_t'], 2),
            'yolox_s_ms': round(ms['yolox_s'], 2),
            'ratio': round(ms['damo_yolo_t'] / ms['yolox_s'], 3),
            'yolox_tiny_ms': round(ms['yolox_tiny'], 2),
            'damo_yolo_t_gflops': round(fl['damo_yolo_t'], 2),
            'yolox_s_gflops': round(fl['yolox_s'], 2),
            'yolox_tiny_gflops': round(fl['yolox_tiny'], 2),
            'flops_ratio': round(fl['damo_yolo_t'] / fl['yolox_s'], 3),
            'damo_yolo_t_params_m': round(count_params(damo) / 1e6, 3),
            'yolox_s_params_m': round(count_params(yolox_s) / 1e6, 3),
            'yolox_tiny_params_m': round(count_params(yolox_tiny) / 1e6, 3),
            'threads': threads,
            'iters': iters,
        }
        if with_train_mode:
            row['damo_yolo_t_train_mode_ms'] = round(ms['damo_yolo_t_train_mode'], 2)
        rows.append(row)
        if log:
            log(str(row))
    return rows


def _yolox_flops(model, size):
    from mmengine.analysis import FlopAnalyzer

    class Raw(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            cls, reg, obj = self.m._forward(x)
            return tuple(cls) + tuple(reg) + tuple(obj)

    fa = FlopAnalyzer(Raw(model).eval(), (torch.zeros(1, 3, size, size),))
    fa.unsupported_ops_warnings(False)
    fa.uncalled_modules_warnings(False)
    return 2 * fa.total() / 1e9
