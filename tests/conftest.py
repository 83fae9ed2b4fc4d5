"""Shared test settings. The notebooks themselves run under nbval (`make notebooks`), not here."""

import os

# TensorFlow's C++ logging; most of what it prints at import ignores this anyway.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
