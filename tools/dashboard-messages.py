"""Brings the dashboard's catalogues up to date with the messages its templates and scripts use.

    python tools/dashboard-messages.py

Extracts the messages (``qala.dashboard.i18n.extract_messages``), adds the new ones to
``src/qala/dashboard/locale/<lang>/LC_MESSAGES/dashboard.po`` untranslated (English: the
message itself) and marks the ones no longer used as obsolete. Translate the new entries by
hand; the server compiles the catalogues when it starts.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from qala.dashboard.i18n import AUTONYMS, DOMAIN, LANGUAGES, LOCALES, extract_messages

LOCALE_DIR = Path(__file__).resolve().parents[1] / "src/qala/dashboard/locale"


def update(lang: str, messages: dict[str, list[str]]) -> Catalog:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if path.exists():
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=LOCALES[lang], domain=DOMAIN)
    else:
        catalog = Catalog(locale=LOCALES[lang], domain=DOMAIN, project="Qala dashboard")
    template = Catalog(domain=DOMAIN)
    for message, places in messages.items():
        locations = [(p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1])) for p in places]
        template.add(message, locations=locations)
    catalog.update(template, no_fuzzy_matching=True)
    catalog.project, catalog.version = "Qala dashboard", ""
    catalog.copyright_holder = catalog.last_translator = "The Qala authors"
    catalog.language_team = f"Qala <{lang}>"
    catalog.msgid_bugs_address = ""
    catalog.header_comment = (
        f"# {AUTONYMS[lang]} messages of the Qala dashboard (tools/dashboard-messages.py).\n"
        "# This file is distributed under the same license as Qala (Apache-2.0)."
    )
    catalog.fuzzy = False
    for message in catalog:
        if message.id and lang == "en" and not message.string:
            message.string = message.id
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, sort_output=False, omit_header=False)
    return catalog


def main() -> None:
    messages = extract_messages()
    for lang in LANGUAGES:
        catalog = update(lang, messages)
        missing = [m.id for m in catalog if m.id and not m.string]
        print(f"{lang}: {len(messages)} messages, {len(missing)} untranslated")


if __name__ == "__main__":
    main()
