"""The finished render of a turn leaves out a long block the page already shows whole
(issue 23.5): the page keeps its streamed thought or answer (static/js/playground.js,
finishInPlace) rather than parsing and laying out all of it again. Anything the page may
not show exactly, or a short block, is rendered whole as before. In Chromium:
tests/browser/test_playground_long_thoughts.py."""

from __future__ import annotations

from playground.conversations.fragments import KEEP_STREAMED_CHARS, render_turn_oob, streamed_blocks_to_keep
from playground.models import Conversation, Turn

LONG = ("A step of the **thought** <b>kept</b>.\n\n" * (KEEP_STREAMED_CHARS // 30))[: KEEP_STREAMED_CHARS + 5]


def finished(owner, model, **fields) -> Turn:
    conversation = Conversation.objects.create(owner=owner, model=model)
    user = Turn.objects.create(conversation=conversation, role="user", content="Think long")
    defaults = {"conversation": conversation, "parent": user, "role": "assistant", "model": model,
                "reasoning": LONG, "content": "Short answer with `code`.", "status": "complete"}
    return Turn.objects.create(**{**defaults, **fields})


def test_a_long_thought_the_page_shows_whole_is_left_out_of_the_finished_render(owner, simulator_model):
    turn = finished(owner, simulator_model)
    shown = (len(turn.reasoning), len(turn.content))
    assert streamed_blocks_to_keep(turn, shown) == {"r"}
    html = render_turn_oob(turn.pk, shown)
    assert f'<div class="reasoning markdown" id="t{turn.pk}-r" tabindex="0" data-streamed' in html
    assert "A step of the" not in html  # not one character of the thought is sent again
    assert f"/turns/{turn.pk}/raw?part=reasoning" in html  # where a page that lost it finds its text
    # The rest of the turn is the server's: the label, the short answer rendered, the actions.
    assert 'class="thought-label"' in html and "<code>code</code>" in html and 'aria-label="Copy reasoning"' in html


def test_a_block_the_page_may_not_show_exactly_or_a_short_one_is_rendered_whole(owner, simulator_model):
    turn = finished(owner, simulator_model, content=LONG)
    whole = (len(turn.reasoning), len(turn.content))
    assert streamed_blocks_to_keep(turn, whole) == {"r", "c"}
    assert streamed_blocks_to_keep(turn, None) == set()  # the socket cannot vouch for what the page shows
    assert streamed_blocks_to_keep(turn, (whole[0] - 1, whole[1])) == {"c"}  # the page lacks a character
    short = finished(owner, simulator_model, reasoning="Brief.")
    assert streamed_blocks_to_keep(short, (len("Brief."), len(short.content))) == set()
    html = render_turn_oob(turn.pk, None)
    assert "data-streamed" not in html and "A step of the <strong>thought</strong> &lt;b&gt;kept&lt;/b&gt;." in html
    # A long block's render comes in chunks of whole top-level blocks (laid out only in view: a reload).
    block = html[html.index(f'id="t{turn.pk}-r"'):html.index("</details>")]
    assert block.count('<div class="md-chunk">') >= 2 and block.count("<p>") == LONG.count("\n\n") + 1
    assert all(chunk.lstrip().startswith("<p>") for chunk in block.split('<div class="md-chunk">')[1:])
    hidden = finished(owner, simulator_model, params={"show_reasoning": False})
    assert "r" not in streamed_blocks_to_keep(hidden, (len(hidden.reasoning), len(hidden.content)))
    stepped = finished(owner, simulator_model, steps=[{"reasoning": "x", "content": "", "tool_calls": []}])
    assert streamed_blocks_to_keep(stepped, (len(stepped.reasoning), len(stepped.content))) == set()
