"""The page's translation catalogues: one per language, merged from JSON fragments.

Each language is a folder, ``serving/i18n/<lang>/``, of JSON fragments (``page.json``,
``company.json``, ``changes.json``, ...): one flat object each, ``{"key": "text"}``, keys
dotted by the part of the page that owns them (``page.title``, ``company.timeline``).
Fragments let each part of the page own its strings without merge conflicts; the loader
merges a language's fragments into one catalogue and refuses a key defined twice, naming
both files. Texts may hold ``{name}`` placeholders, filled in by ``t(key, params)`` in
``static/i18n.js``.

French is the default language (the users are staff of a French public mission); the
API keeps English keys and English messages, and only the page translates.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

CATALOGUE_DIR = Path(__file__).resolve().parent / "i18n"
LANGUAGES: tuple[str, ...] = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


class CatalogueError(ValueError):
    """A fragment that does not parse, is not a flat object of strings, or repeats a key."""


def fragments(lang: str, root: Path = CATALOGUE_DIR) -> list[Path]:
    """The language's fragment files, in name order (so errors are reproducible)."""
    if lang not in LANGUAGES:
        raise CatalogueError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    return sorted((root / lang).glob("*.json"))


def read_fragment(path: Path) -> dict[str, str]:
    """One fragment: a flat JSON object whose values are strings."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogueError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise CatalogueError(f"{path}: must be a JSON object of key -> text")
    for key, text in data.items():
        if not isinstance(text, str):
            raise CatalogueError(f"{path}: key {key!r} must map to a string, not {text!r}")
    return data


def load_catalogue(lang: str, root: Path = CATALOGUE_DIR) -> dict[str, str]:
    """The language's whole catalogue: its fragments merged, each key defined once."""
    merged: dict[str, str] = {}
    owner: dict[str, Path] = {}
    for path in fragments(lang, root):
        for key, text in read_fragment(path).items():
            if key in merged:
                raise CatalogueError(
                    f"key {key!r} is defined twice for {lang!r}: in {owner[key].name} "
                    f"and in {path.name}"
                )
            merged[key] = text
            owner[key] = path
    return merged


@cache
def catalogue_json(lang: str) -> bytes:
    """The catalogue as the JSON the page fetches (cached: the files ship with the code)."""
    return json.dumps(load_catalogue(lang), ensure_ascii=False, sort_keys=True).encode("utf-8")
