"""Stands in for TensorFlow where it must look absent: `tools/backend.py --without-tensorflow`
puts this folder first on the kernels' PYTHONPATH, so that `import tensorflow` fails there as
on the lent GPU machine, which has none. Keras then treats TensorFlow as not installed (its
seed function imports it whenever it can), and a notebook that still needs it fails."""

raise ModuleNotFoundError(
    "No module named 'tensorflow' (hidden by tools/backend.py --without-tensorflow)",
    name="tensorflow",
)
