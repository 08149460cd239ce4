"""The whole method: backbone -> projection head -> loss, an mmengine model."""
from mmengine.model import BaseModel

from framework import MODELS


class Classifier(BaseModel):
    """backbone -> projection head -> loss; every part is built from the registry.

    Args:
        backbone: config dict of the encoder (e.g. ``type='${name}.MLPBackbone'``).
        head: config dict of the projection head.
        loss: config dict of the loss.
        data_preprocessor: mmengine data preprocessor config (None: the default one).
    """

    def __init__(self, backbone, head, loss, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.backbone = MODELS.build(backbone)
        self.head = MODELS.build(head)
        self.loss_fn = MODELS.build(loss)

    def forward(self, inputs, labels=None, mode='tensor'):
        logits = self.head(self.backbone(inputs))
        if mode == 'loss':
            return {'loss': self.loss_fn(logits, labels)}
        if mode == 'predict':
            return [dict(pred=p, label=t) for p, t in zip(logits.argmax(1), labels)]
        return logits
