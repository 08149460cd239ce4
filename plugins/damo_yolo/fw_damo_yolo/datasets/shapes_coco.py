"""mmdet ``CocoDataset`` over the generated shapes set; writes the set first when it is missing."""
import os

from mmdet.datasets import CocoDataset

from ..shapes import CLASSES, ensure_shapes_coco


class ShapesCocoDataset(CocoDataset):
    """``CocoDataset`` with the shapes classes; ``generate`` (dict of ``make_shapes_coco`` arguments:
    n_train, n_val, size, seed) creates ``data_root`` when its json files are absent."""

    METAINFO = {"classes": CLASSES, "palette": [(220, 20, 60), (0, 128, 255), (60, 180, 75)]}

    def __init__(self, *args, generate=None, **kwargs):
        root = kwargs.get("data_root") or ""
        if generate is not None:
            if not root:
                raise ValueError("ShapesCocoDataset(generate=...) needs data_root")
            ensure_shapes_coco(root, **generate)
        elif root and not os.path.isdir(root):
            raise FileNotFoundError(
                f"shapes data root {root!r} does not exist; create it with "
                f"`fw damo_yolo make-shapes-coco --out {root}` (or pass generate=dict(...))")
        super().__init__(*args, **kwargs)
