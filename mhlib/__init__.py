"""mhlib: the small support package of the book *Multi-Head Attention: Applications and
Interdisciplinary Connections*.

Public API (see each module for details):

- `setup(seed)`: seeding, determinism and a one-line device report;
- `claim(key, value, op, target)`, `record(key, value)`: deciding numbers, glued rounded;
- `attention.head_logits(mha, query, key)`: per-head pre-softmax logits of a Keras layer;
- `conv.attention_conv2d(kernel, bias)`: a multi-head attention model equal to `Conv2D`;
- `sinkhorn(logits, temperature, num_iters)`, `SoftMatching`: soft, differentiable matching;
- `RotaryEmbedding`, `RotaryMultiHeadAttention`: rotary position embedding (RoPE) layers;
- `plotting`: the book's figure style, per-head attention maps, block diagrams of models.
"""

from mhlib import attention, conv, plotting
from mhlib.claims import claim, record
from mhlib.matching import SoftMatching, sinkhorn
from mhlib.rope import RotaryEmbedding, RotaryMultiHeadAttention
from mhlib.runtime import setup

__all__ = [
    "RotaryEmbedding",
    "RotaryMultiHeadAttention",
    "SoftMatching",
    "attention",
    "claim",
    "conv",
    "plotting",
    "record",
    "setup",
    "sinkhorn",
]
__version__ = "0.1.0"
