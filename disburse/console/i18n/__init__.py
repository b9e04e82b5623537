"""Every label of the console in English and Japanese.

`t(lang, key, **kw)` looks `key` up in the language's catalog (the layout's, login's and the
portfolio's in `core`, the other pages' in `pages`) and fills in `{name}` fields. A key missing
from a language is a KeyError: tests/console hold both catalogs to the same keys, so a page never
shows a raw key or silently falls back to the other language.
"""

from __future__ import annotations

from typing import Final

from disburse.console.i18n import core

LANGS: Final = ("en", "ja")
DEFAULT_LANG: Final = "en"


def _catalogs() -> dict[str, dict[str, str]]:
    parts = [core.CATALOG]
    try:
        from disburse.console.i18n import pages
    except ImportError:  # the pages' catalog arrives with the pages (issue 13's second half)
        pass
    else:
        parts.append(pages.CATALOG)
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGS}
    for part in parts:
        for lang in LANGS:
            clash = merged[lang].keys() & part[lang].keys()
            if clash:
                raise RuntimeError(f"i18n keys defined twice: {sorted(clash)}")
            merged[lang].update(part[lang])
    return merged


CATALOG: Final = _catalogs()


def t(lang: str, key: str, **kw: object) -> str:
    """The label `key` in `lang` with its fields filled in."""
    text = CATALOG[lang][key]
    return text.format(**kw) if kw else text


def label(lang: str, key: str, fallback: str) -> str:
    """The label `key`, or `fallback` for a key no catalog has (a value named by data, such as
    an alert's kind, that a newer analytics version may add)."""
    return CATALOG[lang].get(key, fallback)


def is_lang(value: str | None) -> bool:
    return value in LANGS


__all__ = ["CATALOG", "DEFAULT_LANG", "LANGS", "is_lang", "label", "t"]
