"""The French catalogue is complete, consistent with the sources, and used by the pages.

The catalogue is src/civmil/locale/fr/LC_MESSAGES/django.po. The compiled .mo is not in git
(``make run``/``make test`` build it); the ``_compiled_catalogue`` fixture builds it with msgfmt
when it is missing or older than the .po.
"""
from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.urls import reverse

SRC = Path(__file__).resolve().parent.parent / "src" / "civmil"
PO = SRC / "locale" / "fr" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")

# msgstr may equal msgid only for names, acronyms and words that French writes the same way.
SAME_IN_FRENCH = {
    "API", "MGRS", "P-code", "SHA-256", "id", "console", "English", "%(who)s, %(when)s",
    "Action", "Actions", "Administration", "Communications", "Discussion", "Latitude", "Longitude", "Message",
    "Mission", "Notes", "Notifications", "Organisation", "Organisations", "Pages", "Police", "Public", "Radio",
    "Source", "Subdivisions", "Type", "Version", "active", "inactive", "latitude", "longitude", "message",
    "messages", "notes", "notification", "notifications", "organisation", "organisations", "source", "version",
    "version %(v)s", "version %(n)s", "%(n)s subdivision.",
}

PLACEHOLDER = re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[-#0 +]*\d*(?:\.\d+)?[sdfir]"  # %(name)s, %(n)d, %(s).1f
                         r"|%[sd]|\{\{[^}]*\}\}|\{[A-Za-z_]\w*\}")
TAG = re.compile(r"</?[A-Za-z][^>]*>")


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0


def _parse(path: Path) -> list[Entry]:
    """A small .po reader: enough for the catalogue makemessages writes (obsolete #~ entries skipped)."""
    entries: list[Entry] = []
    cur: Entry | None = None
    key: tuple[str, int] = ("", 0)
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            if cur is not None:
                entries.append(cur)
            cur = None
            continue
        if line.startswith("#~"):
            continue
        if cur is None:
            cur = Entry(line=number)
        if line.startswith("#,"):
            cur.flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
            continue
        if line.startswith("#"):
            continue
        m = re.match(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")$", line)
        if m:
            name = m.group(1).split("[")[0]
            key = (name, int(m.group(2) or 0))
            value = ast.literal_eval(m.group(3))
        else:
            assert line.startswith('"'), f"{path}:{number}: cannot read {line!r}"
            value = ast.literal_eval(line)
        name, index = key
        if name == "msgstr":
            cur.msgstr[index] = cur.msgstr.get(index, "") + value
        elif name == "msgid":
            cur.msgid += value
        elif name == "msgid_plural":
            cur.msgid_plural = (cur.msgid_plural or "") + value
        elif name == "msgctxt":
            cur.msgctxt = (cur.msgctxt or "") + value
    if cur is not None:
        entries.append(cur)
    return [e for e in entries if e.msgid or e.msgstr]


@pytest.fixture(scope="module")
def catalogue() -> list[Entry]:
    assert PO.exists(), f"{PO} is missing: run `civmil makemessages -l fr` from src/civmil"
    return [e for e in _parse(PO) if e.msgid]  # the header has an empty msgid


@pytest.fixture(scope="module")
def _compiled_catalogue() -> Iterator[None]:
    if not MO.exists() or MO.stat().st_mtime < PO.stat().st_mtime:
        msgfmt = shutil.which("msgfmt")
        if msgfmt is None:
            pytest.skip("msgfmt (GNU gettext) is not installed and the French .mo is missing or stale; "
                        "install gettext or run `civmil compilemessages` from src/civmil")
        partial = MO.with_name(f"django.mo.{os.getpid()}.tmp")  # parallel workers: replace atomically
        subprocess.run([msgfmt, "--check", "-o", str(partial), str(PO)], check=True, capture_output=True)
        os.replace(partial, MO)
        from django.utils.translation import trans_real

        trans_real._translations = {}  # type: ignore[attr-defined]  # forget catalogues read before the build
        trans_real._default = None  # type: ignore[attr-defined]
    yield


def _where(e: Entry) -> str:
    return f"django.po line {e.line}: {e.msgid[:70]!r}"


def test_header_declares_french_plural_rule() -> None:
    header = _parse(PO)[0]
    assert header.msgid == ""
    text = header.msgstr[0]
    assert "Language: fr\n" in text
    assert "Plural-Forms: nplurals=2; plural=(n > 1);" in text
    assert "fuzzy" not in header.flags


def test_every_message_is_translated(catalogue: list[Entry]) -> None:
    empty = [_where(e) for e in catalogue if not e.msgstr or any(not s for s in e.msgstr.values())]
    assert not empty, "untranslated messages:\n" + "\n".join(empty)


def test_no_fuzzy_translation(catalogue: list[Entry]) -> None:
    fuzzy = [_where(e) for e in catalogue if "fuzzy" in e.flags]
    assert not fuzzy, "fuzzy (unchecked) translations:\n" + "\n".join(fuzzy)


def test_plural_messages_have_both_french_forms(catalogue: list[Entry]) -> None:
    wrong = [_where(e) for e in catalogue if e.msgid_plural is not None and sorted(e.msgstr) != [0, 1]]
    singular_with_forms = [_where(e) for e in catalogue if e.msgid_plural is None and list(e.msgstr) != [0]]
    assert not wrong and not singular_with_forms, "\n".join(wrong + singular_with_forms)


def test_placeholders_and_markup_are_kept(catalogue: list[Entry]) -> None:
    problems = []
    for e in catalogue:
        sources = [e.msgid] if e.msgid_plural is None else [e.msgid, e.msgid_plural]
        wanted = sorted(set(PLACEHOLDER.findall(" ".join(sources))))
        tags = sorted(TAG.findall(e.msgid))
        for index, text in e.msgstr.items():
            if sorted(set(PLACEHOLDER.findall(text))) != wanted:
                problems.append(f"{_where(e)} [{index}]: placeholders {PLACEHOLDER.findall(text)} != {wanted}")
            if sorted(TAG.findall(text)) != tags:
                problems.append(f"{_where(e)} [{index}]: markup {TAG.findall(text)} != {tags}")
            if e.msgid.endswith("\n") != text.endswith("\n") or text.count("\n") != e.msgid.count("\n"):
                problems.append(f"{_where(e)} [{index}]: line breaks differ")
    assert not problems, "\n".join(problems)


def test_messages_are_not_left_in_english(catalogue: list[Entry]) -> None:
    same = [_where(e) for e in catalogue
            if e.msgstr.get(0) == e.msgid and e.msgid not in SAME_IN_FRENCH and len(e.msgid) > 1]
    assert not same, "msgstr equals msgid (translate it, or add a name/acronym to SAME_IN_FRENCH):\n" + "\n".join(same)


def test_catalogue_compiles_with_msgfmt_check(tmp_path: Path) -> None:
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("msgfmt (GNU gettext) is not installed")
    run = subprocess.run([msgfmt, "--check", "-o", str(tmp_path / "django.mo"), str(PO)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def _extract_from_sources(tmp_path: Path) -> set[tuple[str | None, str]]:
    """What `makemessages -d django` would extract: .py/.html/.txt under src/civmil, migrations excluded.

    Templates go through Django's own templatize, then every file through xgettext with the keywords
    makemessages passes, so the result matches what makemessages would add to the catalogue.
    """
    from django.utils.translation.template import templatize

    xgettext = shutil.which("xgettext")
    if xgettext is None:
        pytest.skip("xgettext (GNU gettext) is not installed")
    files: list[Path] = []
    for path in sorted(SRC.rglob("*")):
        rel = path.relative_to(SRC)
        if any(part.startswith(".") or part in {"__pycache__", "migrations", "locale", "node_modules"}
               for part in rel.parts[:-1]) or not path.is_file():
            continue
        if path.suffix == ".py":
            files.append(path)
        elif path.suffix in {".html", ".txt"}:
            out = tmp_path / "templates" / (str(rel).replace("/", "__") + ".py")
            out.parent.mkdir(exist_ok=True)
            out.write_text(templatize(path.read_text(encoding="utf-8"), origin=str(path)), encoding="utf-8")
            files.append(out)
    listing = tmp_path / "files.txt"
    listing.write_text("\n".join(str(f) for f in files), encoding="utf-8")
    pot = tmp_path / "django.pot"
    keywords = ["gettext_noop", "gettext_lazy", "ngettext_lazy:1,2", "pgettext:1c,2", "npgettext:1c,2,3",
                "pgettext_lazy:1c,2", "npgettext_lazy:1c,2,3"]
    subprocess.run([xgettext, "-d", "django", "--language=Python", "--from-code=UTF-8", "--no-wrap",
                    *[f"--keyword={k}" for k in keywords], f"--files-from={listing}", f"--output={pot}"],
                   check=True, capture_output=True)
    return {(e.msgctxt, e.msgid) for e in _parse(pot) if e.msgid}


def test_every_source_string_is_in_the_catalogue(catalogue: list[Entry], tmp_path: Path) -> None:
    extracted = _extract_from_sources(tmp_path)
    assert len(extracted) > 500, "the extraction found too few strings: the walk over src/civmil is broken"
    known = {(e.msgctxt, e.msgid) for e in catalogue}
    missing = sorted(m for _, m in extracted - {k for k in extracted if k in known})
    assert not missing, (
        "strings in the code are missing from the French catalogue; from src/civmil run "
        "`civmil makemessages -l fr --ignore 'migrations/*'` and translate them:\n" + "\n".join(missing))


def test_pages_render_in_french(client, member, _compiled_catalogue: None) -> None:  # type: ignore[no-untyped-def]
    m = member()
    client.force_login(m.user)
    client.cookies["django_language"] = "fr"
    response = client.get(reverse("actors:liaison-log"))
    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="fr"' in body or "lang=\"fr\"" in body
    assert "<h1>Journal de liaison</h1>" in body
    assert "Enregistrer un contact" in body
    assert "Liaison log" not in body


def test_headings_start_with_a_capital_in_french(client, member, _compiled_catalogue: None) -> None:  # type: ignore[no-untyped-def]
    """A model's plural name ("jetons d'API") is lower-case in French, as Django wants; a page
    heading made of it starts with a capital, as in English."""
    m = member()
    client.force_login(m.user)
    client.cookies["django_language"] = "fr"
    body = client.get(reverse("core:tokens")).content.decode()
    assert "<h1>Jetons d&#x27;API</h1>" in body or "<h1>Jetons d'API</h1>" in body, body[:3000]


def test_set_language_switches_the_interface(client, member, _compiled_catalogue: None) -> None:  # type: ignore[no-untyped-def]
    m = member()
    client.force_login(m.user)
    response = client.post(reverse("set_language"), {"language": "fr", "next": reverse("actors:areas")})
    assert response.status_code == 302
    body = client.get(reverse("actors:areas")).content.decode()
    assert "Zones" in body and "Filtrer" in body
    english = client.get(reverse("actors:areas"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Filtrer" in english.content.decode()  # the chosen language sticks over the browser's


def test_sign_in_page_is_french(client, _compiled_catalogue: None, db: None) -> None:  # type: ignore[no-untyped-def]
    client.cookies["django_language"] = "fr"
    body = client.get(reverse("account_login")).content.decode()
    assert "Connexion" in body
    assert "Sign In" not in body
