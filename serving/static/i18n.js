// TalentMap page translations: French by default, English one click away.
//
// Loaded before the page's own script. It picks the language (?lang=fr|en in the address
// forces it for this page; otherwise the choice remembered in this browser's localStorage;
// otherwise French), fetches that language's catalogue from /i18n/<lang>.json (public: it
// holds no data), translates the static markup, and wires the language switch. The page's
// script waits for `I18N.ready`, then renders with `I18N.t` and the Intl formatters below.
//
// Markup: a data-i18n attribute (a key) sets textContent; data-i18n-attr (attr:key;attr:key)
// sets attributes. Buttons with data-lang-switch="en" switch language (stored, then the
// page reloads: every string is rendered again from the new catalogue). The API keeps
// English keys and messages; only the page translates.
"use strict";

const I18N = (() => {
  const STORAGE = "talentmap.lang";
  const LANGUAGES = ["fr", "en"];
  const DEFAULT = "fr";
  const LOCALES = { fr: "fr-FR", en: "en-GB" };
  let catalogue = {};

  function forced() {
    const wanted = new URLSearchParams(window.location.search).get("lang");
    return LANGUAGES.includes(wanted) ? wanted : null;
  }

  function remembered() {
    try {
      const stored = window.localStorage.getItem(STORAGE);
      return LANGUAGES.includes(stored) ? stored : null;
    } catch (_) {
      return null; // storage disabled: the default language
    }
  }

  const lang = forced() || remembered() || DEFAULT;
  const locale = LOCALES[lang];

  // t(key, {count: 5}) -> the text with {count} filled in. A missing key shows
  // the key itself (the unit tests check every key the page uses exists in both languages).
  function t(key, params) {
    const text = Object.prototype.hasOwnProperty.call(catalogue, key) ? catalogue[key] : key;
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name) =>
      Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole);
  }

  const formats = new Map();
  function numberFormat(options) {
    const id = JSON.stringify(options || {});
    if (!formats.has(id)) formats.set(id, new Intl.NumberFormat(locale, options));
    return formats.get(id);
  }

  // number(0.1234, 3) -> "0,123" (fr) / "0.123" (en); digits omitted: as Intl decides.
  function number(value, digits) {
    if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
    const options = digits === undefined ? {} : { minimumFractionDigits: digits, maximumFractionDigits: digits };
    return numberFormat(options).format(Number(value));
  }

  // percent(12.5, 1) -> "12,5 %" (fr) / "12.5%" (en): the value is already in percent.
  function percent(value, digits) {
    if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
    const d = digits === undefined ? 1 : digits;
    return numberFormat({ style: "percent", minimumFractionDigits: d, maximumFractionDigits: d })
      .format(Number(value) / 100);
  }

  // money(1500000, "EUR") -> "1,5 M€" style compact amounts.
  function money(value, currency) {
    if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
    return numberFormat({ style: "currency", currency: currency || "EUR", notation: "compact", maximumFractionDigits: 1 })
      .format(Number(value));
  }

  // date("2024-03-01") -> "1 mars 2024" (fr) / "1 Mar 2024" (en). Dates are calendar days:
  // formatted in UTC so that no time zone moves them.
  function date(iso, style) {
    if (!iso) return "—";
    const day = new Date(String(iso).length === 10 ? `${iso}T00:00:00Z` : iso);
    if (Number.isNaN(day.getTime())) return String(iso);
    const options = style === "long"
      ? { year: "numeric", month: "long", day: "numeric", timeZone: "UTC" }
      : { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" };
    return new Intl.DateTimeFormat(locale, options).format(day);
  }

  // plural(n, "key.one", "key.other", params): the form the language's plural rules pick
  // (French: 0 and 1 are singular; English: only 1). {count} is n, formatted.
  const plurals = new Intl.PluralRules(locale);
  function plural(count, one, other, params) {
    const key = plurals.select(Number(count)) === "one" ? one : other;
    return t(key, Object.assign({ count: number(count) }, params || {}));
  }

  function apply(root) {
    const scope = root || document;
    scope.querySelectorAll("[data-i18n]").forEach((node) => {
      node.textContent = t(node.dataset.i18n);
    });
    scope.querySelectorAll("[data-i18n-attr]").forEach((node) => {
      for (const pair of node.dataset.i18nAttr.split(";")) {
        const [attr, key] = pair.split(":").map((s) => s.trim());
        if (attr && key) node.setAttribute(attr, t(key));
      }
    });
  }

  function setLang(wanted) {
    if (!LANGUAGES.includes(wanted)) return;
    try { window.localStorage.setItem(STORAGE, wanted); } catch (_) { /* not remembered */ }
    const url = new URL(window.location.href);
    url.searchParams.delete("lang"); // a forced language would override the new choice
    window.location.replace(url.toString());
  }

  function wireSwitches() {
    document.querySelectorAll("[data-lang-switch]").forEach((button) => {
      const target = button.dataset.langSwitch;
      button.setAttribute("aria-pressed", String(target === lang));
      button.addEventListener("click", () => { if (target !== lang) setLang(target); });
    });
  }

  // reason(r) -> {text, lang}: a model reason (API: text in English, texts by language,
  // worded server-side from the structured reason) in the page's language. Without a text
  // in this language (an older server), the English text with lang "en", which the
  // caller sets on the element so that screen readers read it as English.
  function reason(r) {
    const own = r && r.texts && r.texts[lang];
    if (own) return { text: own, lang: null };
    return { text: (r && r.text) || "", lang: lang === "en" ? null : "en" };
  }

  // A link to another page of this site that keeps a language forced by ?lang=.
  function href(path) {
    const wanted = forced();
    if (!wanted) return path;
    return path + (path.includes("?") ? "&" : "?") + "lang=" + wanted;
  }

  const ready = fetch(`/i18n/${lang}.json`)
    .then((response) => (response.ok ? response.json() : {}))
    .catch(() => ({}))
    .then((loaded) => {
      catalogue = loaded;
      const start = () => {
        document.documentElement.lang = lang;
        apply(document);
        wireSwitches();
      };
      if (document.readyState === "loading") {
        return new Promise((resolve) => document.addEventListener("DOMContentLoaded", () => { start(); resolve(); }));
      }
      start();
      return undefined;
    });

  return { lang, locale, languages: LANGUAGES, ready, t, plural, number, percent, money, date, apply, setLang, href, reason };
})();
window.I18N = I18N;
