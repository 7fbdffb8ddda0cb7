"""Project paths for tests (a plain module: `conftest` names are ambiguous across folders)."""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
DAGS_DIR = PROJECT_DIR / "dags"
PLUGINS_DIR = PROJECT_DIR / "plugins"
