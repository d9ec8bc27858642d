"""Message bodies: a small Markdown subset, rendered to HTML that nh3 sanitises.

Bodies are stored exactly as written; this turns them into HTML at read time. Raw HTML in a
body is never passed through: nh3 strips every tag (and the content of script and style)
before the Markdown subset is applied, and cleans the result again with an allow-list.

Supported: paragraphs (blank line), line breaks, ``- `` lists, ``**bold**``, ``*emphasis*``,
```code```, ``[text](https://...)`` links and mentions ``@[Full Name](person-uuid)``.
"""

from __future__ import annotations

import re
import uuid

import nh3
from django.utils.safestring import SafeString, mark_safe

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
MENTION = re.compile(r"@\[([^\[\]\n]{1,200})\]\((" + _UUID + r")\)")
_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\[\]\n]{1,300})\]\((https?://[^\s()<>\"]{1,2000})\)")
_STRONG = re.compile(r"\*\*([^*\n]+)\*\*")
_EM = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")
_BULLET = re.compile(r"^\s*[-*] ")
_ALLOWED_TAGS = {"p", "br", "ul", "li", "strong", "em", "code", "a", "span"}
_ALLOWED_ATTRIBUTES = {"a": {"href"}, "span": {"class"}}


def mention_ids(body: str) -> list[uuid.UUID]:
    """The person ids named by ``@[Full Name](uuid)`` mentions in ``body``, in order, once each."""
    seen: dict[uuid.UUID, None] = {}
    for match in MENTION.finditer(body or ""):
        seen.setdefault(uuid.UUID(match.group(2)), None)
    return list(seen)


def _inline(text: str) -> str:
    codes: list[str] = []

    def keep_code(m: re.Match[str]) -> str:
        codes.append(m.group(1))
        return f"\x00{len(codes) - 1}\x00"

    text = _CODE.sub(keep_code, text)
    text = MENTION.sub(lambda m: f'<span class="mention">@{m.group(1)}</span>', text)
    text = _LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', text)
    text = _STRONG.sub(r"<strong>\1</strong>", text)
    text = _EM.sub(r"<em>\1</em>", text)
    return re.sub("\x00(\\d+)\x00", lambda m: f"<code>{codes[int(m.group(1))]}</code>", text)


def render_markdown(body: str) -> SafeString:
    """Sanitised HTML for a message body (safe to put in a page as it is)."""
    text = nh3.clean(body or "", tags=set(), attributes={}).replace("\r\n", "\n").replace("\x00", "")
    parts: list[str] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line.rstrip() for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        if all(_BULLET.match(line) for line in lines):
            items = "".join("<li>" + _inline(_BULLET.sub("", line)) + "</li>" for line in lines)
            parts.append(f"<ul>{items}</ul>")
        else:
            parts.append("<p>" + "<br>".join(_inline(line) for line in lines) + "</p>")
    html = nh3.clean("".join(parts), tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https"}, link_rel="noopener noreferrer nofollow")
    return mark_safe(html)  # noqa: S308 — cleaned by nh3 with an allow-list just above
