"""`python -m crm.messages`: extract the UI's strings and merge the Chinese table into the catalogue."""
from __future__ import annotations

import subprocess
import sys

from babel.messages.pofile import read_po, write_po

from crm.config import PROJECT_ROOT
from crm.translations_zh import ZH as CORE_ZH


def feature_translations() -> dict:
    """The core table plus each feature's own (crm/<feature>/zh.py or partners/zh.py: ZH = {...})."""
    import importlib

    table = dict(CORE_ZH)
    for path in sorted([*PROJECT_ROOT.glob("crm/*/zh.py"), PROJECT_ROOT / "partners" / "zh.py"]):
        if path.exists():
            module = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
            table.update(importlib.import_module(module).ZH)
    return table

CATALOGUE = PROJECT_ROOT / "crm" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"


def main() -> int:
    pot = PROJECT_ROOT / "instance" / "messages.pot"
    pot.parent.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(PROJECT_ROOT / "babel.cfg"),
                    "-k", "_l", "-o", str(pot), "--ignore-dirs=.venv .git instance tests segmentation benchmarks",
                    "--no-location", "--omit-header", str(PROJECT_ROOT)], check=True, cwd=PROJECT_ROOT, capture_output=True)
    ZH = feature_translations()
    with open(pot, "rb") as f:
        template = read_po(f)
    existing = {}
    if CATALOGUE.exists():
        with open(CATALOGUE, "rb") as f:
            existing = {m.id: m.string for m in read_po(f) if m.id and m.string}
    missing = []
    for message in template:
        if message.id:
            message.string = existing.get(message.id) or ZH.get(message.id, "")
            if not message.string:
                missing.append(message.id)
    template.locale = "zh"
    template.fuzzy = False
    template.project, template.version = "insurance-crm", "1"
    CATALOGUE.parent.mkdir(parents=True, exist_ok=True)
    with open(CATALOGUE, "wb") as f:
        write_po(f, template, omit_header=False, sort_output=True)
    for msgid in missing:
        print(f"untranslated: {msgid}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
