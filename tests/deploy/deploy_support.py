"""Helpers of the offline deploy tests: paths, tools, loading repo modules by path."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
INSTALL = "tests/deploy/install_tools.sh"


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: run 'bash {INSTALL}' (make test does)"
    return path


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module
