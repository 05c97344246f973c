"""Read a change request's lifecycle from its papers: requested, reviewed, presented, decided, authorised, implemented.

ISO 10007 change control keeps for each proposal its request, evaluation,
disposition, authorisation and implementation. The papers show these steps
in recognisable ways: a request form titled with the CR id, a review memo, the
minutes of the board that discussed it, a signed decision, an ECO that
authorises it, a new revision of a specification that implements it. Each step
found keeps its date and the document (and words) that show it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

STEPS = ("requested", "reviewed", "presented", "approved", "rejected", "deferred", "authorised", "implemented")
WINDOW = 900

_MEETING = re.compile(r"(?i)\b(minutes|meeting|agenda|notes|protocol)\b")
_REQUEST = re.compile(r"(?i)\b(change request|request form|request)\b|_request\b")
_REVIEW = re.compile(r"(?i)\breview(ed)?\b")
# Minutes that merely mention a change request in passing do not show it presented.
_DISCUSSED = re.compile(r"(?i)\b(present\w*|discuss\w*|introduc\w*|decision|decided|approv\w*|reject\w*|"
                        r"defer\w*|status|review\w*|agenda|proposal|proposed|request\w*)\b")
_REPLY = re.compile(r"(?i)\s*(re|aw|sv|fw|fwd|wg|tr)\s*:")
_DECISIONS = {
    "approved": re.compile(r"(?i)(?<!if )(?<!be )(?<!for )\bapproved\b"),
    "rejected": re.compile(r"(?i)\b(rejected|declined|not approved)\b"),
    "deferred": re.compile(r"(?i)\b(deferred|postponed|on hold)\b"),
}
_HEDGES = re.compile(r"(?i)\b(recommend\w*|proposed?|pending|to be|if|subject to|for approval|requests?)\W+(\w+\W+){0,2}$")
_AUTHORISE = re.compile(r"(?i)\bauthori[sz](es|ed|ing|ation)\b")
_IMPLEMENT = re.compile(r"(?i)\bimplement(s|ed|ing|ation)?\b")
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_DATE = re.compile(
    r"\b(?P<iso>(?:19|20)\d\d[-/]\d\d[-/]\d\d)\b"
    r"|\b(?P<dmy>\d{1,2}\.\d{1,2}\.(?:19|20)\d\d)\b"
    r"|\b(?P<d>\d{1,2})\.?\s+(?P<mon>(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*)\.?,?\s+(?P<y>(?:19|20)\d\d)\b"
    r"|\b(?P<mon2>(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*)\.?\s+(?P<d2>\d{1,2}),?\s+(?P<y2>(?:19|20)\d\d)\b")


@dataclass(frozen=True)
class Paper:
    """What the lifecycle reader needs of one document that concerns a change request."""

    doc_id: int
    title: str
    filename: str
    date: str | None             # the document's date, ISO
    text: str
    doc_number: str | None       # its own controlled number, if any
    mentions: tuple[int, ...]    # character offsets of the CR's mentions in ``text``
    headline: bool               # the CR is named in the title or file name
    change_orders: tuple[str, ...] = ()   # ECO/ECN ids the document concerns
    order_headline: bool = False          # an ECO/ECN id is in the title or file name: it is a change order
    own_order: bool = False               # the paper is the change order this lifecycle is of


@dataclass(frozen=True)
class Step:
    """One lifecycle step of a change request, as a document shows it."""

    step: str
    date: str | None
    doc_id: int
    evidence: str


def parse_date(text: str) -> str | None:
    """Return the first date written in ``text`` as YYYY-MM-DD, or None."""
    for m in _DATE.finditer(text):
        try:
            if m.group("iso"):
                return date.fromisoformat(m.group("iso").replace("/", "-")).isoformat()
            if m.group("dmy"):
                return datetime.strptime(m.group("dmy"), "%d.%m.%Y").date().isoformat()
            day, mon, year = (m.group("d"), m.group("mon"), m.group("y")) if m.group("d") else \
                (m.group("d2"), m.group("mon2"), m.group("y2"))
            return date(int(year), _MONTHS.index(mon[:3].lower()) + 1, int(day)).isoformat()
        except ValueError:
            continue
    return None


def steps_of(paper: Paper) -> list[Step]:
    """Return the lifecycle steps one document shows for one change request."""
    opening = paper.text[:300]
    first_line = opening.strip().split("\n", 1)[0] if opening.strip() else ""
    head = f"{paper.title} {paper.filename} {first_line if not paper.title else ''}"
    # A date labelled at the top of the paper ("Date: 2024-12-02") beats the file's own date.
    own_date = _labelled_date(opening) or (paper.date or "")[:10] or None
    steps: list[Step] = []
    reply = _REPLY.match(paper.title)
    if paper.headline and _REQUEST.search(head) and not _REVIEW.search(head) and not reply:
        when = _labelled_date(paper.text) or own_date
        steps.append(Step("requested", when, paper.doc_id, _clip(head)))
    if paper.headline and _REVIEW.search(head):
        steps.append(Step("reviewed", own_date, paper.doc_id, _clip(head)))
    if paper.own_order:
        # A change order or notice is itself the authorisation of the change it carries.
        steps.append(Step("authorised", own_date, paper.doc_id, _clip(head)))
    meeting = bool(_MEETING.search(head) or _MEETING.search(first_line)) and not _REVIEW.search(head)
    for window in _windows(paper):
        if meeting and not paper.headline and _DISCUSSED.search(window):
            steps.append(Step("presented", own_date, paper.doc_id, _clip(window)))
        steps += _decisions(paper, window, own_date)
        if paper.order_headline and _AUTHORISE.search(window):
            steps.append(Step("authorised", own_date, paper.doc_id, _clip(window)))
        done = _IMPLEMENT.search(window)
        if done and (paper.doc_number or meeting) and not _HEDGES.search(window[:done.start()]):
            steps.append(Step("implemented", own_date, paper.doc_id,
                              _clip(window[max(0, done.start() - 70):done.end() + 60])))
    return _dedupe(steps)


def _decisions(paper: Paper, window: str, own_date: str | None) -> list[Step]:
    decided = re.search(r"(?i)\bdecision\b|\bdecided\b|\bccb\b|\bboard\b|\bminutes\b|\bsigned\b",
                        paper.text[:400] + " " + window)
    if not decided:
        return []
    found = []
    for step, pattern in _DECISIONS.items():
        for m in pattern.finditer(window):
            if _HEDGES.search(window[:m.start()]):
                continue
            when = parse_date(window[m.start():m.start() + 120]) or own_date
            found.append(Step(step, when, paper.doc_id, _clip(window[max(0, m.start() - 70):m.end() + 50])))
            break
    return found


def _windows(paper: Paper) -> list[str]:
    """Return the text about each mention: from its line's start to the next section or other CR."""
    windows = []
    for offset in paper.mentions:
        start = paper.text.rfind("\n", 0, offset) + 1
        chunk = paper.text[start:min(len(paper.text), offset + WINDOW)]
        after = offset - start + 8
        ends = [m.start() + after for m in (
            _OTHER_CR.search(chunk, after), _SECTION.search(chunk, after)) if m]
        windows.append(chunk[:min(ends)] if ends else chunk)
    return windows


_OTHER_CR = re.compile(r"(?i)\b(?:CR|ECR)[\s_-]?\d{4}[\s_-]\d{2,6}")
_SECTION = re.compile(r"\n(?:#{1,6}\s|\s{0,3}\d{1,2}[.)]\s)")


def _labelled_date(text: str) -> str | None:
    m = re.search(r"(?i)\bdate\b\W{0,5}(.{0,40})", text)
    return parse_date(m.group(1)) if m else None


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _dedupe(steps: list[Step]) -> list[Step]:
    seen, out = set(), []
    for s in steps:
        if s.step not in seen:
            seen.add(s.step)
            out.append(s)
    return out


def current_state(steps: list[Step]) -> str:
    """Return the furthest step reached, in lifecycle order (a later decision wins)."""
    if not steps:
        return "mentioned"
    decisions = [s for s in steps if s.step in ("approved", "rejected", "deferred")]
    for step in ("implemented", "authorised"):
        if any(s.step == step for s in steps):
            return step
    if decisions:
        return sorted(decisions, key=lambda s: (s.date or "", STEPS.index(s.step)))[-1].step
    return max(steps, key=lambda s: STEPS.index(s.step)).step
