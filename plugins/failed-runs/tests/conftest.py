"""Make the plugin importable from its source tree (it is not installed in the test venv)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
