"""mhlib: the small support package of the book *Multi-Head Attention: Applications and
Interdisciplinary Connections*.

Every public name is imported from the top level (`from mhlib import head_logits`):

- `setup(seed)`: seeding, determinism and a one-line device report;
- `claim(key, value, op, target)`, `record(key, value)`, `over_seeds(notebook, keys)`:
  deciding numbers, glued rounded, and their ten-seed summary;
- `input_gradient(fn, x)`, `weight_gradients(layer, loss, *inputs)`: gradients on any
  backend the book runs on;
- `head_logits(mha, query, key)`, `scaled_dot_logits(query, key)`: per-head
  pre-softmax logits of a Keras attention layer;
- `RotaryEmbedding`, `RotaryMultiHeadAttention`, `geometric_frequencies`: rotary
  position embedding (RoPE);
- `sinkhorn(logits, temperature, num_iters)`, `SoftMatching`: soft, differentiable matching;
- `attention_conv2d(kernel, bias)`, `attention_inception(kernels, biases)`,
  `head_shifts`, `PixelTokens`, `LOGIT_GAP`: multi-head attention models equal to
  `Conv2D` and to parallel `Conv2D` branches;
- `use_book_style()`, `plot_attention_heads(scores)`, `plot_model_blocks(model)`, `STYLE`:
  the book's figures (attention maps per head, block diagrams of models).

The book's API reference page documents each of them, and `mhlib.contacts`, the
synthetic protein-contact task that two pages of section 1.4 share.
"""

from mhlib.attention import head_logits, scaled_dot_logits
from mhlib.autodiff import input_gradient, weight_gradients
from mhlib.claims import claim, over_seeds, record
from mhlib.conv import LOGIT_GAP, PixelTokens, attention_conv2d, attention_inception, head_shifts
from mhlib.matching import SoftMatching, sinkhorn
from mhlib.plotting import STYLE, plot_attention_heads, plot_model_blocks, use_book_style
from mhlib.rope import RotaryEmbedding, RotaryMultiHeadAttention, geometric_frequencies
from mhlib.runtime import setup

__all__ = [
    "LOGIT_GAP",
    "STYLE",
    "PixelTokens",
    "RotaryEmbedding",
    "RotaryMultiHeadAttention",
    "SoftMatching",
    "attention_conv2d",
    "attention_inception",
    "claim",
    "geometric_frequencies",
    "head_logits",
    "head_shifts",
    "input_gradient",
    "over_seeds",
    "plot_attention_heads",
    "plot_model_blocks",
    "record",
    "scaled_dot_logits",
    "setup",
    "sinkhorn",
    "use_book_style",
    "weight_gradients",
]
__version__ = "0.1.0"
