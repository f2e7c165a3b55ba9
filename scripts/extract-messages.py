#!/usr/bin/env python3
"""Write the catalogue template: every message of the code and templates, for translators.

    python scripts/extract-messages.py          write piratebox/translations/messages.pot
    python scripts/extract-messages.py --check  exit 1 when messages.pot is out of date

A new language starts as a copy of messages.pot named after it (oc.po, frp.po), with its
Language and Plural-Forms set in the header: see docs/languages.md. Messages name their
values {name}, flagged python-brace-format for the translator.
Standard library only.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from piratebox.i18n import CATALOGUES, entries_in_tree, po_quote  # noqa: E402

TEMPLATE = CATALOGUES / "messages.pot"
HEADER = """# Messages of the CoCoTe box, for translators: copy this file to LANG.po in this folder
# (LANG: the language's code, oc or frp say), set Language and Plural-Forms below,
# translate what you can. What is left empty is shown in French. See docs/languages.md.
# Made by scripts/extract-messages.py: do not edit by hand.
msgid ""
msgstr ""
"Project-Id-Version: CoCoTe\\n"
"Language: \\n"
"MIME-Version: 1.0\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
"Content-Transfer-Encoding: 8bit\\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\\n"
"""
BRACES = re.compile(r"\{\w+\}")


def template_text(root=ROOT):
    parts = [HEADER]
    for message, (plural, places) in sorted(entries_in_tree(root).items()):
        # files only, as xgettext --add-location=file: a line moved is no new template
        lines = [f"#: {' '.join(sorted({place.rpartition(':')[0] for place in places}))}"]
        if BRACES.search(message + (plural or "")):
            lines.append("#, python-brace-format")
        lines.append(f"msgid {po_quote(message)}")
        if plural:
            lines += [f"msgid_plural {po_quote(plural)}", 'msgstr[0] ""', 'msgstr[1] ""']
        else:
            lines.append('msgstr ""')
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def main(argv):
    text = template_text()
    if "--check" in argv:
        current = TEMPLATE.read_text(encoding="utf-8") if TEMPLATE.exists() else ""
        if current != text:
            print(f"{TEMPLATE.relative_to(ROOT)} is out of date: run "
                  "python scripts/extract-messages.py")
            return 1
        return 0
    TEMPLATE.write_text(text, encoding="utf-8")
    print(f"{text.count(chr(10) + 'msgid ') - 1} messages in {TEMPLATE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
