"""docs/architecture.md shows the package map the code has (scripts/package_map.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "package_map.py"


def test_the_architecture_note_shows_the_current_package_map() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr


def test_a_stale_map_is_caught(tmp_path: Path) -> None:
    """The check compares for real: a map with one row dropped fails."""
    doc = ROOT / "docs" / "architecture.md"
    text = doc.read_text(encoding="utf-8")
    stale = "\n".join(l for l in text.splitlines() if not l.startswith("| `agentdeck/engine/llm/`"))
    code = (f"import sys; sys.path.insert(0, {str(SCRIPT.parent)!r}); import package_map as m; "
            f"from pathlib import Path; m.DOC = Path({str(tmp_path / 'a.md')!r}); "
            "sys.exit(m.main(['--check']))")
    (tmp_path / "a.md").write_text(stale, encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.startswith(f"{tmp_path / 'a.md'}: the package map is stale")
