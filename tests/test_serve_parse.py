"""Any JSON a client sends to /v1/chat/completions parses or fails with a one-line HTTP error."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edgemem.serve.http import HTTPError
from edgemem.serve.openai_api import parse_chat_request

scalars = st.none() | st.booleans() | st.integers(-5, 5000) | st.floats(allow_nan=True) | st.text(max_size=20)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "developer", "tool", "", 3]),
     "content": st.text(max_size=50) | json_values})
bodies = st.fixed_dictionaries({"messages": st.lists(message, max_size=4) | json_values},
                               optional={"max_tokens": json_values | st.integers(-3, 10_000),
                                         "temperature": json_values, "top_p": json_values,
                                         "stop": json_values, "seed": json_values, "n": json_values,
                                         "user": json_values, "stream": json_values,
                                         "stream_options": json_values})


@settings(max_examples=300, deadline=None)
@given(bodies)
def test_parse_or_one_line_error(body: dict[str, Any]) -> None:
    try:
        req = parse_chat_request(body, max_new_tokens=256)
    except HTTPError as e:
        assert 400 <= e.status < 500 and str(e) and "\n" not in str(e)
        return
    assert req.messages and req.messages[-1].role == "user"
    assert 1 <= req.config.max_new_tokens <= 256
    assert 0.0 <= req.config.temperature <= 2.0
    assert all(isinstance(m.content, str) for m in req.messages)
