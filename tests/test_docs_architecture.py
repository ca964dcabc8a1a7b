"""The architecture picture (docs/hooks/architecture.py, FLOW) names only modules that exist.

The picture on the docs' architecture page is drawn from FLOW at build time; this test fails
when a module it names is moved or removed, so the picture follows the code. Reads no settings.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docs_architecture_hook", ROOT / "docs" / "hooks" / "architecture.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # its dataclasses look their module up by name
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_module_in_the_picture_exists() -> None:
    paths = load_hook().module_paths()
    assert len(paths) > 10
    missing = [path for path in paths if not (ROOT / path).is_file()]
    assert not missing, f"the architecture picture names modules that do not exist: {missing}"


def test_the_picture_is_one_svg_naming_every_module() -> None:
    hook = load_hook()
    svg = hook.render_svg()
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    for path in hook.module_paths():
        assert path in svg
