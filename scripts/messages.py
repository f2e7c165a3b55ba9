#!/usr/bin/env python3
"""Add every message of the code and templates that a catalogue lacks, with an empty msgstr.

    python scripts/messages.py          update piratebox/translations/fr.po
    python scripts/messages.py oc       update piratebox/translations/oc.po
    python scripts/messages.py --check  exit 1 and list what fr.po is missing
The translator then fills the empty msgstr lines; nothing else needs compiling.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from piratebox.i18n import CATALOGUES, entries_in_tree, parse_po, po_quote  # noqa: E402


def main(argv):
    languages = [argument for argument in argv if not argument.startswith("-")]
    path = CATALOGUES / f"{languages[0] if languages else 'fr'}.po"
    text = path.read_text(encoding="utf-8")
    singles, plurals = parse_po(text)
    known = set(singles) | set(plurals) | {line[6:] for line in text.splitlines()
                                           if line.startswith("msgid ")}
    entries = entries_in_tree(ROOT)
    missing = sorted(m for m in entries if po_quote(m) not in known)
    if "--check" in argv:
        for message in missing:
            print(message)
        return 1 if missing else 0
    with path.open("a", encoding="utf-8") as catalogue:
        for message in missing:
            plural = entries[message][0]
            catalogue.write(f"\nmsgid {po_quote(message)}\n" + (
                f'msgid_plural {po_quote(plural)}\nmsgstr[0] ""\nmsgstr[1] ""\n' if plural
                else 'msgstr ""\n'))
    print(f"{len(missing)} new messages in {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
