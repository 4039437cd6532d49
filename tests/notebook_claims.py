"""Checks that a notebook's words agree with its numbers.

- ``verdict_problems(nb)``: in an executed notebook, every verdict (an output carrying
  ``ipainter_nb.verdicts.MIME``) must have the word its own numbers give, recomputed here
  from its value, interval and threshold, and the sentence shown must say that word and
  print numbers that give it; no output may print a verdict word at the start of a line
  without those numbers (a ``print("seen ...")`` would escape the check).
- ``markdown_problems(nb)``: the text cells state no measured outcome: no durations, no
  measured decimals, percentages or ratios, no counts of model calls (they depend on the
  model that ran), none of the outcome phrases that once contradicted the numbers.
  Measured outcomes and counts are printed by code, from the numbers.
"""

from __future__ import annotations

import re
from typing import Any

from ipainter_nb.verdicts import MIME

SEEN, NOT_SEEN, TOO_CLOSE = "seen", "NOT seen", "too close to call"
_LINE = re.compile(r"^(NOT seen|too close to call|seen)\s{2,}(\S.*)$")
_INTERVAL = re.compile(r"(difference|distance below the midpoint) ([+-]?\d+\.\d+) ± (\d+\.\d+)")
_SHARE = re.compile(r"keeps (-?\d+)% of a gain")

#: what a text cell may not contain: measured durations, decimals, percentages and ratios
#: (sizes of files in GB/MB and the level of an interval are facts, not measurements)
_MEASURED = re.compile(
    r"\b\d+(\.\d+)?\s*(ms|s|sec|seconds?|min|minutes?|hours?)\b"   # durations
    r"|\bin (a few )?(seconds|minutes)\b|\ba few (seconds|minutes)\b"
    r"|\b\d+\.\d+\b(?!\s*[GM]B)"                                  # decimals
    r"|\b\d+(\.\d+)?\s*%(?!\s*intervals?)"                          # percentages
    r"|\b\d+(\.\d+)?x\b")                                          # ratios
#: model-call counts: they depend on the model that ran (a notebook may fall back to the demo
#: model), so a code cell prints them from the schedule in use
_COUNTED = re.compile(r"\b\d[\d,]*\s+(model\s+)?calls\b")
#: outcome phrases that the notebooks once stated against their own figures
OUTCOME_PHRASES = ("less blurry", "keeps the picture sharp", "keeps RePaint's gain", "in seconds")


def expected_word(value: float, half_width: float, threshold: float) -> str:
    """The word a claim "value < threshold" earns from the interval ``value ± half_width``.

    Args:
        value: the claim's value.
        half_width: half the width of its interval.
        threshold: the claim holds below it.

    Returns:
        ``seen``, ``NOT seen`` or ``too close to call``.
    """
    if value + half_width < threshold:
        return SEEN
    if value - half_width > threshold:
        return NOT_SEEN
    return TOO_CLOSE


def _outputs(nb: Any):
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for out in cell.get("outputs", []):
                yield index, out


def _text_of(out: Any) -> str:
    if out.get("output_type") == "stream":
        return out.get("text", "")
    return out.get("data", {}).get("text/plain", "")


def verdicts_of(nb: Any) -> list[tuple[int, dict[str, Any], str]]:
    """Every verdict an executed notebook shows: (cell index, its numbers, its text).

    Args:
        nb: the executed notebook.

    Returns:
        The verdicts in order.
    """
    return [(i, out["data"][MIME], _text_of(out)) for i, out in _outputs(nb) if MIME in out.get("data", {})]


def _sentence_problems(rec: dict[str, Any], text: str, want: str) -> list[str]:
    line = _LINE.match(text.strip())
    if not line:
        return [f"{text!r} does not start with its verdict word"]
    found = []
    word, rest = line.groups()
    if word != want:
        found.append(f"{text!r} says {word!r}, its numbers say {want!r}")
    if rec["claim"] not in rest:
        found.append(f"{text!r} does not state its claim {rec['claim']!r}")
    interval = _INTERVAL.search(rest)
    if interval:
        kind, shown, half = interval.group(1), float(interval.group(2)), float(interval.group(3))
        value = -shown if kind.startswith("distance below") else shown
        digits = len(interval.group(3).split(".")[1])
        slack = 0.5 * 10 ** -digits  # the printed numbers are rounded
        if abs(value - rec["value"]) > slack or abs(half - rec["half_width"]) > slack:
            found.append(f"{text!r} prints {value} ± {half}, its numbers are {rec['value']} ± {rec['half_width']}")
        elif abs(abs(value - rec["threshold"]) - half) > 2 * slack and expected_word(value, half, rec["threshold"]) != word:
            found.append(f"{text!r}: the printed {value} ± {half} say {expected_word(value, half, rec['threshold'])!r}")
    share = _SHARE.search(rest)
    if share and word in (SEEN, NOT_SEEN):
        kept = int(share.group(1))
        if (word == SEEN and kept < 50) or (word == NOT_SEEN and kept > 50):
            found.append(f"{text!r} says {word!r} but keeps {kept}% of the gain")
    return found


def verdict_problems(nb: Any) -> list[str]:
    """Where an executed notebook's verdict sentences do not follow from their numbers.

    Args:
        nb: the executed notebook.

    Returns:
        One line per problem (empty: every verdict agrees with its numbers).
    """
    found = []
    for index, rec, text in verdicts_of(nb):
        want = expected_word(rec["value"], rec["half_width"], rec["threshold"])
        if rec["word"] != want:
            found.append(f"cell {index}: {rec['claim']!r} is called {rec['word']!r}, its numbers say {want!r}")
        found += [f"cell {index}: {p}" for p in _sentence_problems(rec, text, want)]
    for index, out in _outputs(nb):
        if MIME in out.get("data", {}):
            continue
        for line in _text_of(out).splitlines():
            if _LINE.match(line.strip()):
                found.append(f"cell {index}: {line.strip()!r} states a verdict without its numbers (use ipainter_nb.verdicts)")
    return found


def markdown_problems(nb: Any) -> list[str]:
    """Measured outcomes stated in a notebook's text cells, which only code may state.

    Args:
        nb: the notebook (executed or not).

    Returns:
        One line per offending phrase.
    """
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for match in _MEASURED.finditer(cell.source):
            found.append(f"cell {index}: {match.group(0)!r} looks measured: print it from the numbers instead")
        for match in _COUNTED.finditer(cell.source.replace("*", "")):
            found.append(f"cell {index}: {match.group(0)!r} depends on the model that runs: print it from the schedule")
        found += [f"cell {index}: states {phrase!r}" for phrase in OUTCOME_PHRASES if phrase.lower() in cell.source.lower()]
    return found
