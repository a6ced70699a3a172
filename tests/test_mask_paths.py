"""mask_mapping's quick path for a dict of plain words (a reply of CONFIG GET *) masks exactly what the
value-by-value path masks: the same output for any text, any known secret, any key."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.secrets import MASK, is_secret_key, mask_mapping, mask_text

# what mask_text looks for, and what could fool a test of all the values joined (the joining character)
WORDS = ["yes", "no", "0", "@", "=", "?", "pass", "PASS", "auth", "user ", "User ", "redis://a:b@h", "\0",
         "requirepass", "masterauth", " ", ">", "x", "?password=s"]
text = st.lists(st.sampled_from(WORDS) | st.text(max_size=4), max_size=5).map("".join)
keys = st.sampled_from(["dir", "bind", "requirepass", "masterauth", "port", "user", "token", "x"]) | st.text(max_size=6)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, text, max_size=8), st.sets(text, max_size=2))
def test_plain_words_are_masked_as_each_value_is(config, known) -> None:
    want = {k: MASK if v and is_secret_key(k) else mask_text(v, frozenset(known)) for k, v in config.items()}
    assert mask_mapping(config, frozenset(known)) == want
