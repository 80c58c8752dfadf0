"""The console's messages: every string its templates and pages translate, extracted with
Babel (Jinja2's extractor for templates, Babel's for Python). A test checks that each has its
Chinese in `locale/zh/LC_MESSAGES/messages.po`; `python -m api.console.catalog` lists the ones
missing, ready to paste into the catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from babel.messages.extract import extract_from_file

from api.console.i18n import translations

HERE = Path(__file__).parent
METHODS = (("templates", "*.html", "jinja2.ext:babel_extract"), (".", "*.py", "python"))
OPTIONS = {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}


def messages() -> Iterator[str]:
    """Every msgid of the templates and of the pages' Python."""
    for folder, pattern, method in METHODS:
        for path in sorted((HERE / folder).glob(pattern)):
            options = OPTIONS if method != "python" else {}
            for _line, message, _comments, _context in extract_from_file(
                method, str(path), options=options
            ):
                yield message if isinstance(message, str) else message[0]


def main() -> None:
    zh = translations("zh")
    for message in sorted(set(messages())):
        if zh.gettext(message) == message:
            print(f'msgid "{message}"\nmsgstr ""\n')


if __name__ == "__main__":
    main()
