"""Shared test settings. The notebooks themselves run under nbval (`make notebooks`), not here."""

import os
import sys
from pathlib import Path

# TensorFlow's C++ logging; most of what it prints at import ignores this anyway.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The book's pipeline scripts (tools/pages.py, tools/inputs.py) are tested as modules.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))


def pytest_collection_modifyitems(config, items):
    """Tests marked tensorflow_only check TensorFlow itself: skipped on other backends."""
    import keras
    import pytest

    if keras.backend.backend() == "tensorflow":
        return
    skip = pytest.mark.skip(reason=f"TensorFlow only; the backend is {keras.backend.backend()}")
    for item in items:
        if "tensorflow_only" in item.keywords:
            item.add_marker(skip)
