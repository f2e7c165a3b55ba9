#!/usr/bin/env python3
"""Add every message of the code and templates that a catalogue lacks, with an empty msgstr.

    python scripts/messages.py          update piratebox/translations/fr.po
    python scripts/messages.py --check  exit 1 and list what is missing
The translator then fills the empty msgstr lines; nothing else needs compiling.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from piratebox.i18n import CATALOGUES, messages_in_tree, parse_po  # noqa: E402


def po_quote(text):
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def main(argv):
    path = CATALOGUES / "fr.po"
    text = path.read_text(encoding="utf-8")
    singles, plurals = parse_po(text)
    known = set(singles) | set(plurals) | {line[6:] for line in text.splitlines()
                                           if line.startswith("msgid ")}
    missing = sorted(m for m in messages_in_tree(ROOT) if po_quote(m) not in known)
    if "--check" in argv:
        for message in missing:
            print(message)
        return 1 if missing else 0
    with path.open("a", encoding="utf-8") as catalogue:
        for message in missing:
            catalogue.write(f"\nmsgid {po_quote(message)}\nmsgstr \"\"\n")
    print(f"{len(missing)} new messages in {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
