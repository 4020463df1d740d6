"""Answers to values: metric distances in metres and qualitative answers.

``parse_distance(text)`` returns metres (float) or None when the text states no distance.
It never guesses: a bare number without a unit is None unless the caller says which unit the
question asked for (``default_unit``), and "a few feet" is None.

Understood forms (case-insensitive):

- units: mm, cm, m, km, inches (in, ", ''), feet (ft, ', foot), yards (yd); British and US
  spellings ("metre", "meter");
- numbers: 1.5, .5, 1,200, 1/2, 1 1/2, unicode fractions (1½), words ("twenty-five",
  "one hundred and twenty", "one point five", "a", "half a", "a quarter of a",
  "three quarters of a"), "X and a half", "a foot and a half";
- compounds: 2'6", 5 ft 3 in, "two feet six inches", "1 m 20 cm";
- ranges: "between 20 and 30 cm", "20-30 cm", "20 to 30 centimeters" -> midpoint;
- SpaceThinker-style ``<answer>...</answer>`` (and "final answer:"): only that part is read.

When the text states several distances, the first one is the answer (the template answers
of SpatialVLM-style models lead with it).
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

__all__ = ['UNITS_M', 'parse_distance', 'parse_yes_no', 'parse_choice', 'parse_side', 'answer_span']

# unit spelling -> metres per unit
UNITS_M: dict[str, float] = {}
for _names, _m in (
    (('mm', 'millimeter', 'millimeters', 'millimetre', 'millimetres'), 0.001),
    (('cm', 'cms', 'centimeter', 'centimeters', 'centimetre', 'centimetres'), 0.01),
    (('m', 'meter', 'meters', 'metre', 'metres', 'mtr', 'mtrs'), 1.0),
    (('km', 'kilometer', 'kilometers', 'kilometre', 'kilometres'), 1000.0),
    (('in', 'inch', 'inches', '"', "''"), 0.0254),
    (('ft', 'foot', 'feet', "'"), 0.3048),
    (('yd', 'yds', 'yard', 'yards'), 0.9144),
):
    for _n in _names:
        UNITS_M[_n] = _m

_ONES = {
    'zero': 0, 'one': 1, 'two': 2, 'three': 3, 'four': 4, 'five': 5, 'six': 6, 'seven': 7, 'eight': 8, 'nine': 9,
    'ten': 10, 'eleven': 11, 'twelve': 12, 'thirteen': 13, 'fourteen': 14, 'fifteen': 15, 'sixteen': 16,
    'seventeen': 17, 'eighteen': 18, 'nineteen': 19,
}
_TENS = {'twenty': 20, 'thirty': 30, 'forty': 40, 'fifty': 50, 'sixty': 60, 'seventy': 70, 'eighty': 80, 'ninety': 90}
_SCALES = {'hundred': 100, 'thousand': 1000}
_NUMBER_WORDS = set(_ONES) | set(_TENS) | set(_SCALES)
_UNICODE_FRACTIONS = {'½': 0.5, '¼': 0.25, '¾': 0.75, '⅓': 1 / 3, '⅔': 2 / 3, '⅛': 0.125}

_NUM = r'\d+(?:\.\d+)?|\.\d+'
# Longest spellings first so "mm" is not read as "m"; word units need a word boundary after them.
_WORD_UNITS = sorted((u for u in UNITS_M if u[0].isalpha()), key=len, reverse=True)
# "in" is a unit only when it is not the preposition ("3 in front of", "5 in the box").
_IN_NOT_PREP = r'in(?!\s+(?:front|the|a|an|of|from|between|total|height|width|length|depth|size|diameter|distance|this|that|each|which|my|its|it)\b)'
_UNIT = (
    r'(?P<U>(?:' + '|'.join(re.escape(u) for u in _WORD_UNITS if u != 'in') + r')\.?(?![a-z])'
    r'|' + _IN_NOT_PREP + r'\.?(?![a-z])|"|\'\'|\')'
)


def _unit_re(tag: str) -> str:
    return _UNIT.replace('?P<U>', f'?P<{tag}>')


_PAIR = rf'(?P<N1>{_NUM})\s*-?\s*{_unit_re("U1")}'
_SECOND = rf'(?:\s*,?\s*(?:and\s+)?(?P<N2>{_NUM})\s*-?\s*{_unit_re("U2")})?'
_RANGE = (
    rf'(?:between\s+(?P<A>{_NUM})\s*{_unit_re("UA")}?\s*(?:and|-|–|to)'
    rf'|(?:from\s+)?(?P<A2>{_NUM})\s*{_unit_re("UA2")}?\s*(?:-|–|—|to))'
    rf'\s*(?P<B>{_NUM})\s*-?\s*{_unit_re("UB")}'
)
_RANGE_RE = re.compile(_RANGE)
_PAIR_RE = re.compile(_PAIR + _SECOND)
_BARE_RE = re.compile(rf'^\s*(?:about|approximately|roughly|around|~)?\s*(?P<N>{_NUM})\s*\.?\s*$')


def answer_span(text: str) -> str:
    """The part of a model's output that holds the answer: the ``<answer>`` tag's content or
    what follows "final answer:", else the whole text."""
    m = re.search(r'<answer>(.*?)(?:</answer>|$)', text, flags=re.S | re.I)
    if m and m.group(1).strip():
        return m.group(1)
    m = re.search(r'final answer\s*(?:is)?\s*[:\-]?\s*(.*)$', text, flags=re.S | re.I)
    if m and m.group(1).strip():
        return m.group(1)
    return text


def _words_to_number(words: list[str]) -> Optional[float]:
    """['one', 'hundred', 'and', 'twenty'] -> 120; ['one', 'point', 'five'] -> 1.5."""
    if 'point' in words:
        i = words.index('point')
        whole = _words_to_number(words[:i]) if i else 0.0
        digits = [_ONES.get(w) for w in words[i + 1 :]]
        if whole is None or not digits or any(d is None or d > 9 for d in digits):
            return None
        return float(f'{int(whole)}.' + ''.join(str(d) for d in digits))
    total, current = 0, 0
    for w in words:
        if w == 'and':
            continue
        if w in _ONES:
            current += _ONES[w]
        elif w in _TENS:
            current += _TENS[w]
        elif w == 'hundred':
            current = max(current, 1) * 100
        elif w == 'thousand':
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
    return float(total + current)


_WORD_RUN = re.compile(
    r'\b(?:' + '|'.join(sorted(_NUMBER_WORDS | {'point'}, key=len, reverse=True)) + r')'
    r'(?:(?:\s+|-)(?:and\s+)?(?:' + '|'.join(sorted(_NUMBER_WORDS | {'point'}, key=len, reverse=True)) + r'))*\b'
)


def _fmt(x: float) -> str:
    return repr(float(x)).rstrip('0').rstrip('.') if '.' in repr(float(x)) else repr(float(x))


def _convert_word_run(m: re.Match) -> str:
    """'one hundred and twenty' -> '120'; 'twenty and thirty' -> '20 and 30' ("and" joins two
    numbers unless it follows hundred/thousand)."""
    groups: list[list[str]] = [[]]
    for w in re.split(r'[\s-]+', m.group(0)):
        if w == 'and' and groups[-1] and groups[-1][-1] not in _SCALES:
            groups.append([])
        else:
            groups[-1].append(w)
    out = []
    for g in groups:
        v = _words_to_number(g) if g else None
        out.append(' '.join(g) if v is None else _fmt(v))
    return ' and '.join(out)


def _normalise(text: str) -> str:
    t = text.lower()
    for a, b in (('’', "'"), ('‘', "'"), ('′', "'"), ('″', '"'), ('“', '"'), ('”', '"'), ('\u00a0', ' ')):
        t = t.replace(a, b)
    # unicode fractions: "1½" -> "1.5", "½" -> "0.5"
    for ch, v in _UNICODE_FRACTIONS.items():
        t = re.sub(rf'(\d+)\s*{ch}', lambda m, v=v: _fmt(int(m.group(1)) + v), t)
        t = t.replace(ch, _fmt(v))
    # thousands separators: 1,200 -> 1200 (not "1, 2" lists)
    t = re.sub(r'\b(\d{1,3})((?:,\d{3})+)\b', lambda m: m.group(1) + m.group(2).replace(',', ''), t)
    # number words -> digits
    t = _WORD_RUN.sub(_convert_word_run, t)
    # mixed and plain fractions: "1 1/2" -> 1.5, "1/2" -> 0.5
    t = re.sub(r'\b(\d+)\s+(\d+)/(\d+)\b', lambda m: _fmt(int(m.group(1)) + int(m.group(2)) / max(int(m.group(3)), 1))
               if int(m.group(3)) else m.group(0), t)
    t = re.sub(r'\b(\d+)/(\d+)\b', lambda m: _fmt(int(m.group(1)) / int(m.group(2))) if int(m.group(2)) else m.group(0), t)
    # fractional words before a unit: "half a meter", "a quarter of a meter", "3 quarters of a foot"
    t = re.sub(r'\b(?:a\s+|one\s+)?half\s+(?:of\s+)?an?\s+', '0.5 ', t)
    t = re.sub(r'\b(?:a|one)\s+quarter\s+(?:of\s+)?an?\s+', '0.25 ', t)
    t = re.sub(r'\b(\d+(?:\.\d+)?)\s+quarters\s+(?:of\s+)?an?\s+', lambda m: _fmt(float(m.group(1)) * 0.25) + ' ', t)
    # "3 and a half feet" -> 3.5 feet; "1 and a quarter"
    t = re.sub(r'\b(\d+(?:\.\d+)?)\s+and\s+a\s+half\b', lambda m: _fmt(float(m.group(1)) + 0.5), t)
    t = re.sub(r'\b(\d+(?:\.\d+)?)\s+and\s+a\s+quarter\b', lambda m: _fmt(float(m.group(1)) + 0.25), t)
    # "a meter", "an inch" -> 1 meter (only directly before a unit word)
    t = re.sub(r'\b(?:a|an)\s+(?=(?:' + '|'.join(re.escape(u) for u in _WORD_UNITS if len(u) > 2) + r')\b)', '1 ', t)
    # "1 foot and a half" -> 1.5 foot
    t = re.sub(
        r'\b(\d+(?:\.\d+)?)\s+(' + '|'.join(re.escape(u) for u in _WORD_UNITS) + r')\s+and\s+a\s+half\b',
        lambda m: f'{_fmt(float(m.group(1)) + 0.5)} {m.group(2)}', t,
    )
    return t


def _unit(u: Optional[str]) -> Optional[float]:
    if u is None:
        return None
    return UNITS_M.get(u.rstrip('.'))


def parse_distance(text: str, default_unit: Optional[str] = None) -> Optional[float]:
    """Metres stated by ``text``, or None when it states no distance.

    default_unit: the unit a bare number is in (e.g. 'm' when the question asked "in meters");
        only an answer that is nothing but a number is read this way.

    >>> parse_distance('about 3 and a half feet')
    1.0668
    """
    if not isinstance(text, str) or not text.strip():
        return None
    t = _normalise(answer_span(text))
    found: list[tuple[int, float]] = []
    for m in _RANGE_RE.finditer(t):
        ub = _unit(m.group('UB'))
        ua = _unit(m.group('UA') or m.group('UA2')) or ub
        if ub is None:
            continue
        a, b = float(m.group('A') or m.group('A2')) * ua, float(m.group('B')) * ub
        found.append((m.start(), (a + b) / 2.0))
    taken = [(m.start(), m.end()) for m in _RANGE_RE.finditer(t)]
    for m in _PAIR_RE.finditer(t):
        if any(s <= m.start() < e for s, e in taken):
            continue
        u1 = _unit(m.group('U1'))
        if u1 is None:
            continue
        value = float(m.group('N1')) * u1
        u2 = _unit(m.group('U2'))
        if m.group('N2') is not None and u2 is not None and u2 < u1:
            value += float(m.group('N2')) * u2  # 5 ft 3 in, 1 m 20 cm: smaller unit second
        elif m.group('N2') is not None:
            found.append((m.start('N2'), float(m.group('N2')) * u2))
        found.append((m.start(), value))
    if found:
        return round(min(found)[1], 9)
    if default_unit is not None:
        if default_unit not in UNITS_M:
            raise ValueError(f'default_unit must be one of {sorted(UNITS_M)}, got {default_unit!r}')
        m = _BARE_RE.match(t)
        if m:
            return round(float(m.group('N')) * UNITS_M[default_unit], 9)
    return None


_YES = r'yes|yeah|yep|correct|true|indeed|affirmative'
_NO = r'no|nope|incorrect|false|not'


def parse_yes_no(text: str) -> Optional[bool]:
    """True for a yes, False for a no, None when the text says neither (or both)."""
    if not isinstance(text, str):
        return None
    t = _normalise(answer_span(text)).strip()
    if re.search(r'\byes\b', t) and re.search(r'\bno\b', t):
        return None
    m = re.match(rf'^\W*(?:(?P<y>{_YES})|(?P<n>{_NO}))\b', t)
    if m:
        return m.group('y') is not None
    yes = re.search(r'\byes\b', t) is not None
    no = re.search(r'\bno\b', t) is not None
    return yes if yes != no else None


def parse_choice(text: str, choices: Sequence[str]) -> Optional[str]:
    """Which of ``choices`` (e.g. object descriptions) the answer names.

    One named: that one. Several: the first named (the subject of the answer sentence), unless
    the answer says "neither"/"both"/"same" (then None).
    """
    if not isinstance(text, str):
        return None
    t = _normalise(answer_span(text))
    if re.search(r'\b(?:neither|both|same|equal|cannot|can\'t|unable)\b', t):
        return None
    hits = []
    for c in choices:
        m = re.search(r'\b' + re.escape(c.lower()) + r'\b', t)
        if m is None and ' ' in c:  # "the block" for "red block": the head noun alone
            m = re.search(r'\b' + re.escape(c.lower().split()[-1]) + r'\b', t)
        if m is not None:
            hits.append((m.start(), c))
    if not hits:
        return None
    return min(hits)[1]


_SIDES = {
    'left': r'left', 'right': r'right(?!\s*(?:now|away))', 'above': r'above|higher|on top', 'below': r'below|lower|beneath|under',
    'in front': r'in front|closer|nearer', 'behind': r'behind|farther|further|back',
}


def parse_side(text: str, options: Sequence[str] = ('left', 'right')) -> Optional[str]:
    """Which of the direction ``options`` ('left', 'right', 'above', 'below', 'in front',
    'behind') the answer states; None when none or several of them appear."""
    if not isinstance(text, str):
        return None
    t = _normalise(answer_span(text))
    unknown = [o for o in options if o not in _SIDES]
    if unknown:
        raise ValueError(f'unknown direction option(s) {unknown}; known: {sorted(_SIDES)}')
    hits = [o for o in options if re.search(r'\b(?:' + _SIDES[o] + r')\b', t)]
    return hits[0] if len(hits) == 1 else None
