"""DAMO-YOLO detectors: the single-stage detector and its CWD distillation variant (Xu et al.
2022, Sec. 2.4)."""

import copy
import os
from pathlib import Path

import torch
from mmdet.models.detectors.kd_one_stage import KnowledgeDistillationSingleStageDetector
from mmdet.models.detectors.single_stage import SingleStageDetector
from mmengine.config import Config
from mmengine.logging import MessageHub

from framework import (
    FwError,
    config_path,
    load_checkpoint,
    mm_registries,
    mm_scope,
    trusted_checkpoints,
)

from .loss import cwd_weight


class DAMOYOLO(SingleStageDetector):
    """DAMO-YOLO: TinyNAS backbone + GiraffeNeckV2 (RepGFPN) + ZeroHead, mmdet's single-stage
    detector. ``switch_to_deploy()`` re-parameterises every RepConv in place.

    Args:
        backbone, neck, bbox_head: component configs.
        train_cfg, test_cfg: mmdet's train/test settings (the assigner, NMS, score threshold).
        data_preprocessor: mmdet's ``DetDataPreprocessor`` config.
        init_cfg: mmengine initialisation config.
    """

    def __init__(
        self,
        backbone,
        neck,
        bbox_head,
        train_cfg=None,
        test_cfg=None,
        data_preprocessor=None,
        init_cfg=None,
    ):
        super().__init__(
            backbone,
            neck,
            bbox_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg,
        )

    def switch_to_deploy(self):
        from .deploy import switch_to_deploy

        switch_to_deploy(self)
        return self


def load_teacher_state(path, trusted=False):
    """The state dict of a local checkpoint, read by fw's checkpoint loader: weights only, unless
    the file is trusted (``trusted=True``, or a checkpoint path of the config being trained)."""
    path = str(path)
    if '://' in path:
        raise FwError(
            f'teacher checkpoint {path!r}: only local files are supported (nothing '
            'downloads); put the teacher checkpoint on disk and give its path'
        )
    if not os.path.isfile(path):
        raise FwError(
            f'teacher checkpoint {path!r} does not exist; train the teacher config '
            'first (fw train damo_yolo <teacher config>) and point teacher_ckpt at '
            'its .pth'
        )
    with trusted_checkpoints(path if trusted else None):
        ckpt = load_checkpoint(path, map_location='cpu')
    return ckpt.get('state_dict', ckpt)


class DAMOYOLODistill(KnowledgeDistillationSingleStageDetector):
    """Student DAMO-YOLO distilled from a teacher's neck features with CWD (paper Sec. 2.4).

    ``loss = det_loss + w(it) * cwd`` with ``w`` cosine-decayed from ``distill_weight`` to
    ``distill_weight_end`` over the run.

    Args:
        backbone, neck, bbox_head: the student's component configs.
        teacher_config: the teacher's config: a packaged config name, a path or a Config.
        teacher_ckpt: local teacher checkpoint (weights only unless trusted); None: random.
        eval_teacher: keep the teacher in eval mode.
        distill_loss: ``CWDFeatureLoss`` arguments (tau, loss_weight); channels are filled in.
        distill_weight, distill_weight_end: the CWD weight at the start and at the end.
        distill_in_no_aug_epochs: also distil in the last, augmentation-free epochs.
        num_no_aug_epochs: how many epochs those are.
        teacher_trusted: load a full (pickled) teacher checkpoint; only for files you wrote.
        train_cfg, test_cfg, data_preprocessor: as for :class:`DAMOYOLO`.
    """

    def __init__(
        self,
        backbone,
        neck,
        bbox_head,
        teacher_config,
        teacher_ckpt=None,
        eval_teacher=True,
        distill_loss=None,
        distill_weight=1.0,
        distill_weight_end=0.1,
        distill_in_no_aug_epochs=True,
        num_no_aug_epochs=16,
        teacher_trusted=False,
        train_cfg=None,
        test_cfg=None,
        data_preprocessor=None,
    ):
        if isinstance(teacher_config, (str, Path)):
            teacher_config = Config.fromfile(str(config_path('damo_yolo', str(teacher_config))))
        super().__init__(
            backbone,
            neck,
            bbox_head,
            teacher_config,
            teacher_ckpt=None,
            eval_teacher=eval_teacher,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
        )
        if teacher_ckpt is not None:
            state = load_teacher_state(teacher_ckpt, teacher_trusted)
            state = {
                k[len('teacher_model.') :] if k.startswith('teacher_model.') else k: v
                for k, v in state.items()
            }
            missing, unexpected = self.teacher_model.load_state_dict(state, strict=False)
            if missing:
                raise FwError(
                    f'teacher checkpoint {teacher_ckpt!r} misses {len(missing)} keys of '
                    f'the teacher config, e.g. {missing[:3]}; is it a checkpoint of '
                    f'{teacher_config.filename if hasattr(teacher_config, "filename") else "it"}?'
                )
        for p in self.teacher_model.parameters():
            p.requires_grad_(False)
        distill_loss = dict(distill_loss or {})
        distill_loss.setdefault('type', 'damo_yolo.CWDFeatureLoss')
        distill_loss.setdefault('student_channels', self.neck.out_channels)
        distill_loss.setdefault('teacher_channels', self.teacher_model.neck.out_channels)
        self.distill_loss = mm_registries('damo_yolo', 'mmdet').MODELS.build(distill_loss)
        self.distill_weight = distill_weight
        self.distill_weight_end = distill_weight_end
        self.distill_in_no_aug_epochs = distill_in_no_aug_epochs
        self.num_no_aug_epochs = num_no_aug_epochs

    def current_distill_weight(self):
        hub = MessageHub.get_current_instance()
        it = hub.get_info('iter', 0) or 0
        total = hub.get_info('max_iters', 0) or 0
        w = cwd_weight(it, total, 1.0, self.distill_weight_end / max(self.distill_weight, 1e-12))
        return self.distill_weight * w

    def _distill_active(self):
        if self.distill_in_no_aug_epochs:
            return True
        hub = MessageHub.get_current_instance()
        epoch, max_epochs = hub.get_info('epoch', 0), hub.get_info('max_epochs', None)
        return max_epochs is None or epoch < max_epochs - self.num_no_aug_epochs

    def loss(self, batch_inputs, batch_data_samples):
        x = self.extract_feat(batch_inputs)
        losses = self.bbox_head.loss(x, batch_data_samples)
        if self._distill_active():
            with torch.no_grad():
                self.teacher_model.eval()
                teacher_x = self.teacher_model.extract_feat(batch_inputs)
            w = self.current_distill_weight()
            raw = self.distill_loss(x, teacher_x)
            losses['loss_cwd'] = w * raw
            losses['cwd_raw'] = raw.detach()  # unweighted, logged only (no "loss" in the key)
        return losses

    def switch_to_deploy(self):
        from .deploy import switch_to_deploy

        switch_to_deploy(self)
        return self


CONFIG_DIR = Path(__file__).with_name('configs')


def model_config(name):
    """A config path, a packaged config name (``damo_yolo_t_shapes``) or a model base of the
    package (``_base_/damo_yolo_t``)."""
    base = CONFIG_DIR / f'{name}.py'
    if str(name).startswith('_base_/') and base.is_file():
        return base
    return config_path('damo_yolo', str(name))


def build_model(config, num_classes=None):
    """The detector of a config (see :func:`model_config`), built in mmdet's scope and
    initialised."""
    cfg = Config.fromfile(str(model_config(config)))
    model_cfg = copy.deepcopy(cfg.model)
    if num_classes is not None:
        model_cfg.bbox_head.num_classes = num_classes
    with mm_scope('mmdet'):
        model = mm_registries('damo_yolo', 'mmdet').MODELS.build(model_cfg)
    quiet_init(model)
    return model


def quiet_init(model):
    """``init_weights`` without mmengine's per-parameter INFO dump (keeps --json output clean)."""
    import logging

    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)


def count_params(model):
    return sum(p.numel() for p in model.parameters())
