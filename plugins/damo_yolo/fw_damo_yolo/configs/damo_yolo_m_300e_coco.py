# DAMO-YOLO-M on COCO 2017, 640x640, 300 epochs, 8 GPUs x 32 (the official recipe).
# Expected (paper Table 8 / README, val2017): see the plugin README.
_base_ = ['./_base_/damo_yolo_m.py', './_base_/coco_300e.py']
# the training pipeline (Mosaic, RandomAffine with shear 2.0, MixUp, flip, SADA) is the base's
