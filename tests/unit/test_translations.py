"""The page's catalogues: French and English hold the same keys, every key the page uses
exists, placeholders agree, and the loader refuses a key defined in two fragments."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from talentmap.serving.translations import (
    CATALOGUE_DIR,
    DEFAULT_LANGUAGE,
    LANGUAGES,
    CatalogueError,
    catalogue_json,
    load_catalogue,
)

STATIC = Path(CATALOGUE_DIR).parent / "static"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# t("key" / I18N.t('key' in the scripts; data-i18n="key" and data-i18n-attr="a:key;b:key"
# in the markup (the scripts' markup strings included).
T_CALL = re.compile(r"""\bt\(\s*["']([A-Za-z0-9_.]+)["']""")
DATA_I18N = re.compile(r"""data-i18n=["']([A-Za-z0-9_.]+)["']""")
DATA_I18N_ATTR = re.compile(r"""data-i18n-attr=["']([^"']+)["']""")
STRING = re.compile(r"""["'`]([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)["'`]""")


def used_keys() -> dict[str, set[str]]:
    """key -> the static files using it."""
    found: dict[str, set[str]] = {}
    namespaces = {key.split(".")[0] for key in load_catalogue(DEFAULT_LANGUAGE)}
    for path in sorted(STATIC.glob("*")):
        if path.suffix not in {".js", ".html"}:
            continue
        text = path.read_text(encoding="utf-8")
        keys = set(T_CALL.findall(text)) | set(DATA_I18N.findall(text))
        for attrs in DATA_I18N_ATTR.findall(text):
            keys |= {pair.split(":", 1)[1].strip() for pair in attrs.split(";") if ":" in pair}
        if path.suffix == ".js":
            # Keys held in variables ({400: "error.bad_request"}): any dotted literal in a
            # catalogue namespace must be a key.
            keys |= {s for s in STRING.findall(text) if s.split(".")[0] in namespaces}
        for key in keys:
            found.setdefault(key, set()).add(path.name)
    return found


def test_french_is_the_default_and_both_languages_exist() -> None:
    assert DEFAULT_LANGUAGE == "fr"
    assert set(LANGUAGES) == {"fr", "en"}
    for lang in LANGUAGES:
        assert load_catalogue(lang), lang


def test_french_and_english_have_exactly_the_same_keys() -> None:
    fr, en = set(load_catalogue("fr")), set(load_catalogue("en"))
    assert not fr - en, f"only in French: {sorted(fr - en)}"
    assert not en - fr, f"only in English: {sorted(en - fr)}"


def test_each_fragment_exists_in_both_languages() -> None:
    names = {lang: {p.name for p in (CATALOGUE_DIR / lang).glob("*.json")} for lang in LANGUAGES}
    assert names["fr"] == names["en"]


def test_placeholders_agree_across_languages() -> None:
    fr, en = load_catalogue("fr"), load_catalogue("en")
    for key in fr:
        assert set(PLACEHOLDER.findall(fr[key])) == set(PLACEHOLDER.findall(en[key])), key


def test_no_text_is_empty() -> None:
    for lang in LANGUAGES:
        empty = [k for k, v in load_catalogue(lang).items() if not v.strip()]
        assert not empty, (lang, empty)


def test_every_key_the_page_uses_exists() -> None:
    used = used_keys()
    assert len(used) > 40  # the scan itself works (the page uses many keys)
    assert "page.key.connect" in used and "error.bad_request" in used
    for lang in LANGUAGES:
        catalogue = load_catalogue(lang)
        missing = {k: sorted(v) for k, v in used.items() if k not in catalogue}
        assert not missing, f"{lang}: keys used but not in the catalogue: {missing}"


def test_the_scan_finds_a_missing_key(tmp_path: Path) -> None:
    # The check above cannot pass vacuously: a key the catalogue lacks is reported.
    text = 'x = t("page.no_such_key"); y = "<b data-i18n-attr=\\"title:page.other\\">"'
    assert "page.no_such_key" in T_CALL.findall(text)
    assert "page.no_such_key" not in load_catalogue("fr")


def test_duplicate_key_across_fragments_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "a.json").write_text('{"x.one": "un"}', encoding="utf-8")
    (tmp_path / "fr" / "b.json").write_text('{"x.one": "encore"}', encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"'x\.one'.*a\.json.*b\.json"):
        load_catalogue("fr", tmp_path)


def test_bad_fragments_are_refused_with_the_file_named(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    bad = tmp_path / "en" / "bad.json"
    bad.write_text('{"x": 3}', encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"bad\.json.*string"):
        load_catalogue("en", tmp_path)
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"bad\.json.*object"):
        load_catalogue("en", tmp_path)
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"bad\.json"):
        load_catalogue("en", tmp_path)
    with pytest.raises(CatalogueError, match="unknown language"):
        load_catalogue("de", tmp_path)


def test_served_json_is_the_merged_catalogue() -> None:
    for lang in LANGUAGES:
        assert json.loads(catalogue_json(lang)) == load_catalogue(lang)
