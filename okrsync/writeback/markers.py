"""The marked section okrsync owns inside text a person also writes (an issue body, a description).

okrsync writes only between `<!-- okrsync:begin -->` and `<!-- okrsync:end -->` (HTML comments,
so GitHub's and Jira's renderers show nothing of the markers). Everything before and after is
the person's and is kept byte for byte. Text without markers gets the section appended at its
end, after a blank line.
"""

from __future__ import annotations

BEGIN = "<!-- okrsync:begin -->"
END = "<!-- okrsync:end -->"


def block(section: str) -> str:
    """Wrap `section` in the markers."""
    return f"{BEGIN}\n{section.strip()}\n{END}"


def _bounds(text: str) -> tuple[int, int] | None:
    """Find the first marked section: the first end marker with a begin marker before it.

    The begin marker taken is the last one before that end, so a stray marker a person left
    (a lone begin before the section, a lone end before it) never swallows their text.
    """
    position = 0
    while (end := text.find(END, position)) >= 0:
        start = text.rfind(BEGIN, 0, end)
        if start >= 0:
            return start, end + len(END)
        position = end + len(END)
    return None


def section_of(text: str | None) -> str | None:
    """Return what is between the markers (stripped), or None when `text` has no marked section."""
    bounds = _bounds(text or "")
    if bounds is None:
        return None
    start, stop = bounds
    return (text or "")[start + len(BEGIN) : stop - len(END)].strip()


def splice(text: str | None, section: str) -> str:
    """Put `section` between the markers of `text`, or append a marked section; keep the rest.

    A begin marker without an end marker (a person cut the section in half) is treated as no
    section: a new one is appended rather than guessing where the person's text resumes.
    """
    text = text or ""
    bounds = _bounds(text)
    if bounds is not None:
        start, stop = bounds
        return text[:start] + block(section) + text[stop:]
    kept = text.rstrip()
    return f"{kept}\n\n{block(section)}" if kept else block(section)


def remove(text: str | None) -> str:
    """Drop the marked section from `text`, and the blank lines `splice` put before it."""
    text = text or ""
    bounds = _bounds(text)
    if bounds is None:
        return text
    start, stop = bounds
    before, after = text[:start], text[stop:]
    if not after.strip():
        return before.rstrip()
    return before + after.lstrip("\r\n")
