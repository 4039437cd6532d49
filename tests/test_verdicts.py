"""verdicts: the word of a measured claim follows from its numbers, and travels with them."""

from __future__ import annotations

import json

import pytest

from ipainter_nb import verdicts
from ipainter_nb.verdicts import NOT_SEEN, SEEN, TOO_CLOSE


def test_the_word_follows_from_where_the_interval_lies():
    assert verdicts.decide(-0.3, 0.2) == SEEN            # wholly below the threshold
    assert verdicts.decide(0.3, 0.2) == NOT_SEEN         # wholly above: the opposite held
    assert verdicts.decide(-0.1, 0.2) == TOO_CLOSE       # contains it
    assert verdicts.decide(1.2, 0.0, threshold=1.1) == NOT_SEEN
    assert verdicts.decide(0.5, 0.0, threshold=0.5) == TOO_CLOSE  # an exact value on the threshold


def test_t_quantiles_match_the_tables():
    assert verdicts.t_quantile_975(1) == pytest.approx(12.706, abs=1e-3)
    assert verdicts.t_quantile_975(3) == pytest.approx(3.182, abs=1e-3)
    assert verdicts.t_quantile_975(20) == pytest.approx(2.086, abs=2e-3)
    assert verdicts.t_quantile_975(1000) == pytest.approx(1.962, abs=1e-3)
    with pytest.raises(ValueError, match="at least 2 samples"):
        verdicts.t_quantile_975(0)


def test_paired_uses_the_t_interval_of_the_paired_differences():
    a, b = [0.10, 0.12, 0.11, 0.13], [0.20, 0.21, 0.23, 0.22]
    v = verdicts.paired("a is lower than b", a, b)
    d = [x - y for x, y in zip(a, b)]
    mean = sum(d) / 4
    sd = (sum((x - mean) ** 2 for x in d) / 3) ** 0.5
    assert (v.word, v.n, v.value) == (SEEN, 4, pytest.approx(mean))
    assert v.half_width == pytest.approx(3.182 * sd / 2, rel=1e-3)
    assert v.text().startswith("seen ") and "a is lower than b" in v.text() and f"{mean:+.4f}" in v.text()
    # two samples that disagree in direction cannot settle it
    assert verdicts.paired("a is lower than b", [0.1, 0.3], [0.2, 0.2]).word == TOO_CLOSE
    with pytest.raises(ValueError, match="as many on each side"):
        verdicts.paired("x", [1, 2], [1])


def test_keeps_most_of_gain_is_the_midpoint_rule_for_samples_and_exact_values():
    exact = verdicts.keeps_most_of_gain("stop keeps most", none=[4.29], stopped=[4.27], full=[2.66])
    assert exact.word == NOT_SEEN and "keeps 1% of a gain of 1.630" in exact.text()
    kept = verdicts.keeps_most_of_gain("stop keeps most", none=[4.0], stopped=[2.5], full=[2.0])
    assert kept.word == SEEN and "keeps 75%" in kept.text()
    noisy = verdicts.keeps_most_of_gain("stop keeps most", none=[0.10, 0.09, 0.11], stopped=[0.07, 0.08, 0.06],
                                        full=[0.07, 0.07, 0.07])
    assert noisy.n == 3 and noisy.word in (SEEN, TOO_CLOSE) and noisy.half_width > 0
    nothing = verdicts.keeps_most_of_gain("stop keeps most", none=[2.0], stopped=[2.5], full=[3.0])
    assert nothing.word == TOO_CLOSE and "no gain to keep" in nothing.text()
    assert verdicts.decide(nothing.value, nothing.half_width, nothing.threshold) == TOO_CLOSE


def test_a_verdict_shows_as_text_and_carries_its_numbers_as_json():
    v = verdicts.exact("A costs less than B", 150 - 190, 0, "150 against 190")
    bundle = json.loads(json.dumps(v._repr_mimebundle_()))
    assert bundle["text/plain"] == str(v) == "seen               A costs less than B  (150 against 190)"
    assert bundle[verdicts.MIME] == {"claim": "A costs less than B", "word": SEEN, "value": -40.0, "half_width": 0.0,
                                     "threshold": 0.0, "n": 1, "detail": "150 against 190"}
