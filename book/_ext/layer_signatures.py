"""Sphinx extension: show a Keras layer's constructor arguments on the API page.

`keras.layers.Layer` defines `__new__(cls, *args, **kwargs)`, and autodoc prefers a
class's `__new__` to its `__init__`, so every mhlib layer would be listed as
`SoftMatching(*args, **kwargs)`. This gives such classes the signature of their own
`__init__` instead.
"""

from __future__ import annotations

from sphinx.util.inspect import signature, stringify_signature


def _init_signature(app, what, name, obj, options, signature_text, return_annotation):
    if what != "class" or signature_text != "(*args, **kwargs)" or "__init__" not in vars(obj):
        return None
    return stringify_signature(signature(obj.__init__, bound_method=True)), return_annotation


def setup(app):
    app.connect("autodoc-process-signature", _init_signature)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
