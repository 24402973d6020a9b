"""Model output renders without losing a character, and stays sanitised."""

from __future__ import annotations

import re

from django.utils.html import strip_tags

from playground.markdown import render


def text_of(html: str) -> str:
    return strip_tags(html).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def test_it_keeps_the_stars_of_arithmetic():
    html = render("(17*23) + 4*12 = 439")
    assert "<em>" not in html
    assert text_of(html).strip() == "(17*23) + 4*12 = 439"


def test_it_still_renders_emphasis_and_bold():
    html = render("**Answer:** 391 is *right*, and 2*x stays")
    assert "<strong>Answer:</strong>" in html
    assert "<em>right</em>" in html
    assert "2*x" in html


def test_it_keeps_one_step_per_line():
    html = render("Step 1: 17*20 = 340\nStep 2: 17*3 = 51\nStep 3: 340 + 51 = 391")
    assert html.count("<br>") == 2
    assert "17*20 = 340" in html and "17*3 = 51" in html


def test_it_renders_lists():
    html = render("Plan:\n\n1. add\n2. carry\n\n- a\n- b")
    assert re.search(r"<ol>\s*<li>add</li>\s*<li>carry</li>\s*</ol>", html)
    assert re.search(r"<ul>\s*<li>a</li>\s*<li>b</li>\s*</ul>", html)


def test_it_highlights_fenced_code_and_keeps_every_character():
    code = "def f(x):\n    return x*2 < 3 and '<b>'\n"
    html = render(f"```python\n{code}```")
    assert 'class="code-block" data-lang="python"' in html
    assert '<span class="k">def</span>' in html  # Pygments' keyword class
    assert text_of(html.split("<code", 1)[1].split(">", 1)[1]).rstrip("\n").startswith(code.rstrip("\n"))
    assert "<b>" not in html


def test_code_in_an_unknown_language_is_shown_plain():
    html = render("```nosuchlang\na *b* c\n```")
    assert "a *b* c" in html and "<span" not in html


def test_it_keeps_math_for_katex_in_every_delimiter():
    html = render(
        r"Inline $e^{i\pi}+1=0$, \(a_1 * b_2\), and display:"
        + "\n\n$$\n\\int_0^1 x\\,dx\n$$\n\n\\[ x = \\frac{1}{2} \\]"
    )
    assert r'<span class="math-inline">e^{i\pi}+1=0</span>' in html
    assert r'<span class="math-inline">a_1 * b_2</span>' in html
    assert r'<div class="math-display">' in html and r"\int_0^1 x\,dx" in html
    assert r'<span class="math-display"> x = \frac{1}{2} </span>' in html


def test_display_math_inside_a_paragraph_keeps_its_backslashes():
    html = render("So\n\\[\nx^2 = 4 \\\\ y = 2\n\\]\ndone")
    assert "x^2 = 4 \\\\ y = 2" in html


def test_money_is_not_math():
    html = render("It costs $5 and $10.")
    assert "math" not in html and "$5 and $10" in html


def test_math_and_code_are_still_sanitised():
    html = render("$<img src=x onerror=alert(1)>$ `<script>` <script>alert(1)</script> [x](javascript:alert(1))")
    assert "<script" not in html and "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # kept, as text
    assert '<a href="javascript' not in html
