"""ZeroHead, DAMO-YOLO's "large neck, small head" (Xu et al. 2022, Sec. 2.4): per level one
classification conv and one distribution-box conv, QFL + GIoU + DFL losses, AlignOTA assignment,
point priors without offset."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import Scale
from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.models.task_modules.prior_generators import MlvlPointGenerator
from mmdet.utils import reduce_mean
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from framework import mm_registries


def _default(cfg, **kw):
    """The given config, or the default one."""
    return dict(cfg) if cfg is not None else dict(**kw)


class ZeroHead(BaseDenseHead):
    """``forward`` returns raw class logits and raw (after Scale) 4*(reg_max+1) box-bin logits
    per level.

    Args:
        num_classes: object classes.
        in_channels: channels of the neck outputs, one per level.
        strides: stride of each level (point priors at multiples of it, no offset).
        reg_max: the box distribution has reg_max + 1 bins per side (DFL).
        head_kernel: kernel of the two convs per level.
        loss_cls, loss_bbox, loss_dfl: loss configs (default QFL beta 2, GIoU weight 2.0,
            DFL weight 0.25).
        assigner: assigner config (default ``damo_yolo.AlignOTAAssigner``); ``train_cfg.assigner``
            takes precedence.
        box_weight: per-positive weight of the GIoU/DFL losses: ``'score'`` (the prior's highest
            class probability, detached; official and GFL) or ``'uniform'`` (1 for every
            positive; an ablation, see the README's overfit analysis).
        train_cfg, test_cfg: mmdet's train/test settings (``score_thr``, ``nms``,
            ``max_per_img``; ``nms_pre`` > 0 keeps only that many top candidates before NMS,
            default -1 = all, as the official post-process).
        init_cfg: mmengine initialisation config.
    """

    def __init__(
        self,
        num_classes=80,
        in_channels=(64, 128, 256),
        strides=(8, 16, 32),
        reg_max=16,
        head_kernel=3,
        loss_cls=None,
        loss_bbox=None,
        loss_dfl=None,
        assigner=None,
        box_weight='score',
        train_cfg=None,
        test_cfg=None,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        registries = mm_registries('damo_yolo', 'mmdet')  # as mmdet's heads build theirs
        MODELS, TASK_UTILS = registries.MODELS, registries.TASK_UTILS
        self.num_classes = num_classes
        if box_weight not in ('score', 'uniform'):
            raise ValueError(f"box_weight must be 'score' or 'uniform', got {box_weight!r}")
        self.box_weight = box_weight
        self.in_channels = tuple(in_channels)
        self.strides = tuple(strides)
        self.reg_max = reg_max
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        pad = head_kernel // 2
        self.cls_convs = nn.ModuleList(
            nn.Conv2d(c, num_classes, head_kernel, padding=pad) for c in in_channels
        )
        self.reg_convs = nn.ModuleList(
            nn.Conv2d(c, 4 * (reg_max + 1), head_kernel, padding=pad) for c in in_channels
        )
        self.scales = nn.ModuleList(Scale(1.0) for _ in strides)
        self.prior_generator = MlvlPointGenerator(self.strides, offset=0.0)
        self.register_buffer(
            'project', torch.arange(reg_max + 1, dtype=torch.float32), persistent=False
        )
        self.loss_cls = MODELS.build(
            _default(
                loss_cls,
                type='mmdet.QualityFocalLoss',
                use_sigmoid=True,
                beta=2.0,
                activated=False,
                loss_weight=1.0,
            )
        )
        self.loss_bbox = MODELS.build(_default(loss_bbox, type='mmdet.GIoULoss', loss_weight=2.0))
        self.loss_dfl = MODELS.build(
            _default(loss_dfl, type='mmdet.DistributionFocalLoss', loss_weight=0.25)
        )
        if train_cfg is not None and train_cfg.get('assigner') is not None:
            assigner = train_cfg['assigner']
        self.assigner = TASK_UTILS.build(_default(assigner, type='damo_yolo.AlignOTAAssigner'))

    def init_weights(self):
        super().init_weights()
        bias_cls = -math.log((1 - 0.01) / 0.01)
        for conv in list(self.cls_convs) + list(self.reg_convs):
            nn.init.normal_(conv.weight, 0.0, 0.01)
            nn.init.constant_(conv.bias, 0.0)
        for conv in self.cls_convs:
            nn.init.constant_(conv.bias, bias_cls)

    def forward(self, feats):
        cls_scores, bbox_preds = [], []
        for x, cls_conv, reg_conv, scale in zip(feats, self.cls_convs, self.reg_convs, self.scales):
            cls_scores.append(cls_conv(x))
            bbox_preds.append(scale(reg_conv(x)).float())
        return tuple(cls_scores), tuple(bbox_preds)

    # ---- helpers -------------------------------------------------------------------------------
    def _flatten(self, cls_scores, bbox_preds):
        B = cls_scores[0].size(0)
        cls = torch.cat(
            [c.permute(0, 2, 3, 1).reshape(B, -1, self.num_classes) for c in cls_scores], 1
        )
        reg = torch.cat(
            [r.permute(0, 2, 3, 1).reshape(B, -1, 4, self.reg_max + 1) for r in bbox_preds], 1
        )
        return cls, reg

    def _priors(self, cls_scores):
        sizes = [c.shape[-2:] for c in cls_scores]
        return torch.cat(
            self.prior_generator.grid_priors(
                sizes, dtype=cls_scores[0].dtype, device=cls_scores[0].device, with_stride=True
            ),
            0,
        )

    def decode(self, priors, reg):
        """priors (N, 4) [x, y, sw, sh]; reg (..., N, 4, reg_max+1) logits -> boxes (..., N, 4)
        pixels."""
        dist = F.softmax(reg, dim=-1) @ self.project.to(reg)
        dist = dist * priors[:, 2:3]
        xy = priors[:, :2]
        return torch.cat([xy - dist[..., :2], xy + dist[..., 2:]], -1)

    # ---- training --------------------------------------------------------------------------------
    def loss_by_feat(
        self,
        cls_scores,
        bbox_preds,
        batch_gt_instances,
        batch_img_metas,
        batch_gt_instances_ignore=None,
    ):
        cls, reg = self._flatten(cls_scores, bbox_preds)
        priors = self._priors(cls_scores)
        B, N, C = cls.shape
        boxes = self.decode(priors, reg)  # (B, N, 4)
        probs = cls.detach().sigmoid()

        labels_all = cls.new_full((B, N), C, dtype=torch.long)
        scores_all = cls.new_zeros((B, N))
        pos_mask = cls.new_zeros((B, N), dtype=torch.bool)
        gt_boxes_all = cls.new_zeros((B, N, 4))
        for i, gt in enumerate(batch_gt_instances):
            pred = InstanceData(priors=priors, bboxes=boxes[i].detach(), scores=probs[i])
            res = self.assigner.assign(pred, gt)
            pos = res.gt_inds > 0
            if pos.any():
                gtb = gt.bboxes.tensor if hasattr(gt.bboxes, 'tensor') else gt.bboxes
                pos_mask[i] = pos
                labels_all[i, pos] = res.labels[pos]
                scores_all[i, pos] = res.max_overlaps[pos].to(cls.dtype)
                gt_boxes_all[i, pos] = gtb[res.gt_inds[pos] - 1].to(cls.dtype)

        num_pos = pos_mask.sum().float()
        num_total_pos = max(reduce_mean(num_pos).item(), 1.0)
        loss_cls = self.loss_cls(
            cls.reshape(-1, C),
            (labels_all.reshape(-1), scores_all.reshape(-1)),
            avg_factor=num_total_pos,
        )
        if num_pos > 0:
            p_boxes = boxes[pos_mask]
            p_gt = gt_boxes_all[pos_mask]
            p_reg = reg[pos_mask]  # (P, 4, R+1)
            p_priors = priors[None].expand(B, N, 4)[pos_mask]
            weight = probs[pos_mask].max(1)[0]
            if self.box_weight == 'uniform':
                weight = torch.ones_like(weight)
            norm = max(reduce_mean(weight.sum()).item(), 1.0)
            loss_bbox = self.loss_bbox(p_boxes, p_gt, weight=weight, avg_factor=norm)
            s = p_priors[:, 2:3]
            xy = p_priors[:, :2]
            ltrb = torch.cat([xy - p_gt[:, :2], p_gt[:, 2:] - xy], 1) / s
            ltrb = ltrb.clamp(min=0, max=self.reg_max - 0.1)
            loss_dfl = self.loss_dfl(
                p_reg.reshape(-1, self.reg_max + 1),
                ltrb.reshape(-1),
                weight=weight[:, None].expand(-1, 4).reshape(-1),
                avg_factor=4.0 * norm,
            )
        else:
            zero = sum(r.sum() for r in bbox_preds) * 0.0
            loss_bbox, loss_dfl = zero, zero
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox, loss_dfl=loss_dfl)

    # ---- inference -------------------------------------------------------------------------------
    def predict_by_feat(
        self,
        cls_scores,
        bbox_preds,
        score_factors=None,
        batch_img_metas=None,
        cfg=None,
        rescale=False,
        with_nms=True,
    ):
        cfg = ConfigDict(
            cfg
            if cfg is not None
            else (
                self.test_cfg
                or dict(
                    nms_pre=-1,
                    score_thr=0.05,
                    nms=dict(type='nms', iou_threshold=0.7),
                    max_per_img=500,
                )
            )
        )
        cls, reg = self._flatten(cls_scores, bbox_preds)
        priors = self._priors(cls_scores)
        boxes = self.decode(priors, reg)
        scores = cls.sigmoid()
        results = []
        for i in range(cls.size(0)):
            s = scores[i]
            keep = s > cfg.get('score_thr', 0.05)
            vals = s[keep]
            prior_idx, labels = keep.nonzero(as_tuple=True)
            nms_pre = cfg.get('nms_pre', -1)
            if 0 < nms_pre < vals.numel():
                vals, order = vals.topk(nms_pre)
                prior_idx, labels = prior_idx[order], labels[order]
            res = InstanceData(bboxes=boxes[i][prior_idx], scores=vals, labels=labels)
            meta = batch_img_metas[i] if batch_img_metas is not None else {}
            res = self._bbox_post_process(
                res, cfg, rescale=rescale, with_nms=with_nms, img_meta=meta
            )
            if not with_nms or res.bboxes.numel() == 0:
                res = res[: cfg.get('max_per_img', 500)]
            results.append(res)
        return results
