#!/usr/bin/env python3
"""Add every message of the code and templates that a catalogue lacks, with an empty msgstr.

    python scripts/messages.py          update piratebox/translations/fr.po
    python scripts/messages.py oc       update piratebox/translations/oc.po
    python scripts/messages.py --check  exit 1 and list what fr.po is missing, and any
                                        translation the box would not use (placeholders
                                        other than the message's), or why it cannot read it
    python scripts/messages.py --check oc   the same for oc.po (or a path: frp.po)
The translator then fills the empty msgstr lines; nothing else needs compiling.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from piratebox.i18n import CATALOGUES, entries_in_tree, po_quote, read_catalogue  # noqa: E402


def main(argv):
    languages = [argument for argument in argv if not argument.startswith("-")]
    chosen = languages[0] if languages else "fr"
    path = Path(chosen) if chosen.endswith(".po") else CATALOGUES / f"{chosen}.po"
    text = path.read_text(encoding="utf-8")
    try:
        singles, plurals, problems = read_catalogue(text)
    except ValueError as error:
        print(f"{path.name}: the box cannot read it and does not offer its language: {error}")
        return 1
    known = set(singles) | set(plurals) | {line[6:] for line in text.splitlines()
                                           if line.startswith("msgid ")}
    entries = entries_in_tree(ROOT)
    missing = sorted(m for m in entries if po_quote(m) not in known)
    if "--check" in argv:
        for message in missing:
            print(message)
        for problem in problems:
            print(f"{path.name}: {problem}")
        return 1 if missing or problems else 0
    with path.open("a", encoding="utf-8") as catalogue:
        for message in missing:
            plural = entries[message][0]
            catalogue.write(f"\nmsgid {po_quote(message)}\n" + (
                f'msgid_plural {po_quote(plural)}\nmsgstr[0] ""\nmsgstr[1] ""\n' if plural
                else 'msgstr ""\n'))
    print(f"{len(missing)} new messages in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
