"""The node imports, before it says it is ready, every module its methods import where they first need it: a
first import on the event loop holds every message behind it up (0.35 s once, in the middle of a load)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import warnlink.sharing.node as node


def _lazy_imports() -> set[str]:
    tree = ast.parse(Path(node.__file__).read_text())
    found = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for st in ast.walk(fn):
                if isinstance(st, ast.ImportFrom) and st.module and st.level == 0:
                    found.add(st.module)
                elif isinstance(st, ast.Import):
                    found.update(a.name for a in st.names)
    return found


def test_every_module_a_node_method_imports_is_preloaded():
    lazy = _lazy_imports()
    assert "warnlink.assessment.replay" in lazy  # (the parse finds them)
    missing = sorted(m for m in lazy if m.split(".")[0] == "warnlink" and m not in node.PRELOAD_MODULES)
    assert missing == [], f"imported inside node methods but not in PRELOAD_MODULES: {missing}"


def test_preload_imports_them():
    code = ("import sys, warnlink.sharing.node as n; n.preload_modules(); "
            "print(','.join(m for m in n.PRELOAD_MODULES if m not in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == ""
