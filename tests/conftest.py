"""Shared test settings. The notebooks themselves run under nbval (`make notebooks`), not here."""

import os
import sys
from pathlib import Path

# TensorFlow's C++ logging; most of what it prints at import ignores this anyway.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The book's pipeline scripts (tools/pages.py, tools/inputs.py) are tested as modules.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))


def pytest_collection_modifyitems(config, items):
    """Tests marked tensorflow_only check TensorFlow itself: skipped on other backends.
    Keras is imported only when such a test was collected: the browser test needs neither
    it nor the TensorFlow it imports (5 s of CPU, 800 MB)."""
    if not any("tensorflow_only" in item.keywords for item in items):
        return
    import keras
    import pytest

    if keras.backend.backend() == "tensorflow":
        return
    skip = pytest.mark.skip(reason=f"TensorFlow only; the backend is {keras.backend.backend()}")
    for item in items:
        if "tensorflow_only" in item.keywords:
            item.add_marker(skip)
