"""Untrusted text (tensor, layer and file names from a model) made safe for what tinyship writes.

Every template gets its jinja environment from `environment()`, which registers
these helpers as filters; a string from a model reaches generated files only
through one of them:

    c_comment    inside /* ... */ or after //: printable ASCII, no '*/', '/*', '\\', '??'
    c_string     the body of a C/C++ string literal: octal escapes for everything unusual
    c_ident      a C identifier
    one_line     a comment line of an ini/Makefile/YAML/Robot/Renode file
    terminal     a line printed to the terminal (error messages, tables)
    shell        one shell word (for generated CI scripts)

HTML templates are rendered with autoescape on (`environment(..., html=True)`).
"""

from __future__ import annotations

import re
import shlex
import unicodedata

_PRINTABLE = re.compile(r"[^\x20-\x7e]")
_C_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def one_line(text, limit: int = 120) -> str:
    """Printable ASCII only (control characters, newlines and non-ASCII become '_'), no trailing
    backslash (a line continuation in Makefiles and C), at most `limit` characters."""
    text = _PRINTABLE.sub("_", str(text))
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    return text.replace("\\", "/")


def terminal(text, limit: int = 1000) -> str:
    """Text for one terminal line: control and invisible formatting characters (newlines, escape
    sequences, bidi overrides) become '?', at most `limit` characters; other Unicode stays."""
    text = "".join("?" if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in str(text))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def c_comment(text, limit: int = 120) -> str:
    """Text that cannot end or nest a C comment, splice a line, or form a trigraph."""
    text = one_line(text, limit).replace("?", "_")
    while "*/" in text or "/*" in text:
        text = text.replace("*/", "* /").replace("/*", "/ *")
    return text


def c_string(text, limit: int = 120) -> str:
    """The body of a C string literal holding `text` (UTF-8), e.g. `"{{ name | c_string }}"`.

    Backslash, quote and '?' (trigraphs) are escaped; every byte outside printable ASCII is a
    three-digit octal escape, which, unlike \\x, cannot swallow the characters after it."""
    out = []
    for byte in str(text).encode("utf-8")[:limit]:
        ch = chr(byte)
        if ch in '\\"?':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7f:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return "".join(out)


def c_ident(text, prefix: str = "m_") -> str:
    """A C identifier from `text`: other characters become '_', `prefix` if it would start with a digit."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", str(text)) or "_"
    return ident if _C_IDENT.fullmatch(ident) else prefix + ident


def is_c_ident(text: str) -> bool:
    return bool(_C_IDENT.fullmatch(text))


def shell(text) -> str:
    """One shell word, quoted if needed; control characters are not allowed in it."""
    if re.search(r"[\x00-\x1f\x7f]", str(text)):
        raise ValueError(f"{one_line(text)!r} holds control characters")
    return shlex.quote(str(text))


FILTERS = {"c_comment": c_comment, "c_string": c_string, "c_ident": c_ident, "one_line": one_line, "shell": shell}


def environment(loader, *, html: bool = False, **options):
    """The jinja2 environment every tinyship template is rendered with: strict undefined
    variables, the filters above, autoescape for HTML. `options` go to jinja2.Environment."""
    import jinja2

    options.setdefault("keep_trailing_newline", True)
    env = jinja2.Environment(loader=loader, autoescape=html, undefined=jinja2.StrictUndefined, **options)
    env.filters.update(FILTERS)
    return env
