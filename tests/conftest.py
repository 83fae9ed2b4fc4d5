"""Shared test settings. The notebooks themselves run under nbval (`make notebooks`), not here."""

import os
import sys
from pathlib import Path

# TensorFlow's C++ logging; most of what it prints at import ignores this anyway.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The book's pipeline scripts (tools/pages.py, tools/inputs.py) are tested as modules.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
