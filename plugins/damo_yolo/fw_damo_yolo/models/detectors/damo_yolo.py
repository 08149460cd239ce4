"""DAMO-YOLO detectors: plain single-stage detector and the CWD distillation variant (spec section 5)."""
import os
from pathlib import Path

import torch
from mmdet.models.detectors.kd_one_stage import KnowledgeDistillationSingleStageDetector
from mmdet.models.detectors.single_stage import SingleStageDetector
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.logging import MessageHub

from ..losses.cwd import CWDFeatureLoss, cwd_weight

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


class DAMOYOLO(SingleStageDetector):
    """TinyNAS backbone + GiraffeNeckV2 + ZeroHead. ``switch_to_deploy()`` re-parameterises in place."""

    def switch_to_deploy(self):
        from ...deploy import switch_to_deploy
        switch_to_deploy(self)
        return self


def resolve_config(path):
    """A config path, or the stem/file name of a config shipped with this plugin."""
    p = Path(path)
    if p.is_file():
        return str(p)
    for cand in (CONFIG_DIR / p.name, CONFIG_DIR / f"{p.name}.py"):
        if cand.is_file():
            return str(cand)
    raise FileNotFoundError(f"teacher config {path!r} not found (neither a file nor a config of "
                            f"the damo_yolo plugin in {CONFIG_DIR})")


def load_teacher_state(path, trusted=False):
    """Load a local teacher checkpoint. Weights-only first; a full pickle only when trusted."""
    path = str(path)
    if "://" in path:
        raise ValueError(f"teacher checkpoint {path!r}: only local files are supported (nothing downloads); "
                         "put the teacher checkpoint on disk and give its path")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"teacher checkpoint {path!r} does not exist; train the teacher config first "
                                "(fw train damo_yolo <teacher config>) and point teacher_ckpt at its .pth")
    try:  # the core trusts the checkpoint paths written in the config being trained
        from framework.checkpoint import is_trusted
        trusted = trusted or is_trusted(path)
    except ImportError:
        pass
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - pickle errors vary by torch version
        if not (trusted or os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD") == "1"):
            raise RuntimeError(
                f"teacher checkpoint {path!r} is not a weights-only file ({type(err).__name__}). "
                "Export one with `fw damo_yolo export-weights CKPT OUT`, or set teacher_trusted=True "
                "for a checkpoint you wrote yourself (full unpickling runs code stored in the file)") from err
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    return ckpt.get("state_dict", ckpt)


class DAMOYOLODistill(KnowledgeDistillationSingleStageDetector):
    """Student DAMO-YOLO distilled from a teacher's neck features with CWD.

    ``loss = det_loss + w(it) * cwd`` with ``w`` cosine-decayed from 1.0 to 0.1 over the run."""

    def __init__(self, backbone, neck, bbox_head, teacher_config, teacher_ckpt=None, eval_teacher=True,
                 distill_loss=None, distill_weight=1.0, distill_weight_end=0.1,
                 distill_in_no_aug_epochs=True, num_no_aug_epochs=16, teacher_trusted=False,
                 train_cfg=None, test_cfg=None, data_preprocessor=None):
        if isinstance(teacher_config, (str, Path)):
            teacher_config = Config.fromfile(resolve_config(teacher_config))
        super().__init__(backbone, neck, bbox_head, teacher_config, teacher_ckpt=None,
                         eval_teacher=eval_teacher, train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor)
        if teacher_ckpt is not None:
            state = load_teacher_state(teacher_ckpt, teacher_trusted)
            state = {k[len("teacher_model."):] if k.startswith("teacher_model.") else k: v
                     for k, v in state.items()}
            missing, unexpected = self.teacher_model.load_state_dict(state, strict=False)
            if missing:
                raise RuntimeError(f"teacher checkpoint {teacher_ckpt!r} misses {len(missing)} keys of the "
                                   f"teacher config, e.g. {missing[:3]}")
        for p in self.teacher_model.parameters():
            p.requires_grad_(False)
        distill_loss = dict(distill_loss or {})
        distill_loss.pop("type", None)
        distill_loss.setdefault("student_channels", self.neck.out_channels)
        distill_loss.setdefault("teacher_channels", self.teacher_model.neck.out_channels)
        self.distill_loss = CWDFeatureLoss(**distill_loss)
        self.distill_weight = distill_weight
        self.distill_weight_end = distill_weight_end
        self.distill_in_no_aug_epochs = distill_in_no_aug_epochs
        self.num_no_aug_epochs = num_no_aug_epochs

    def current_distill_weight(self):
        hub = MessageHub.get_current_instance()
        it = hub.get_info("iter", 0) or 0
        total = hub.get_info("max_iters", 0) or 0
        w = cwd_weight(it, total, 1.0, self.distill_weight_end / max(self.distill_weight, 1e-12))
        return self.distill_weight * w

    def _distill_active(self):
        if self.distill_in_no_aug_epochs:
            return True
        hub = MessageHub.get_current_instance()
        epoch, max_epochs = hub.get_info("epoch", 0), hub.get_info("max_epochs", None)
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
            losses["loss_cwd"] = w * raw
            losses["cwd_raw"] = raw.detach()  # unweighted, logged only (no "loss" in the key)
        return losses

    def switch_to_deploy(self):
        from ...deploy import switch_to_deploy
        switch_to_deploy(self)
        return self
