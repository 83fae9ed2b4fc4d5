"""mhlib's top-level API (mhlib/__init__.py) and its reference page, book/api.md."""

import inspect
import re
from pathlib import Path

import pytest

import mhlib

API_PAGE = Path(__file__).resolve().parent.parent / "book" / "api.md"
# automodule entries document a section's helper module, not the top-level API
DOCUMENTED = re.findall(
    r"^\.\. auto(?!module)\w+:: mhlib\.(?:\w+\.)?(\w+)", API_PAGE.read_text(), re.M
)


def test_every_public_name_is_importable_from_the_top_level():
    for name in mhlib.__all__:
        assert hasattr(mhlib, name), f"mhlib.__all__ lists {name}, which mhlib does not define"


def test_api_page_documents_every_public_name_once():
    assert sorted(DOCUMENTED) == sorted(mhlib.__all__)


@pytest.mark.parametrize("name", [n for n in mhlib.__all__ if callable(getattr(mhlib, n))])
def test_public_functions_and_classes_have_keras_style_docstrings(name):
    doc = inspect.getdoc(getattr(mhlib, name)) or ""
    assert doc, f"mhlib.{name} has no docstring"
    if inspect.signature(getattr(mhlib, name)).parameters:
        assert "Args:" in doc, f"mhlib.{name} documents no arguments"
