"""The LLM clients against the scripted server on 127.0.0.1: both API flavours, streaming,
retries, timeouts and error messages (never carrying the API key)."""
from __future__ import annotations

import logging
import time
import traceback
from email.utils import formatdate

import pytest

from agentdeck.engine.llm import (
    AnthropicClient, LLMConnectionError, LLMError, LLMProtocolError, LLMTimeout, Message,
    OpenAIChatClient, RateLimited, RetryNotice, RetryPolicy, ToolCall, ToolSpec,
    parse_retry_after,
)
from agentdeck.engine.llm.client import HTTPLLMClient
from agentdeck.engine.llm.sse import StreamCut, sse_events
from tests.fakes.llm_server import LLMServer
from tests.fakes.scripts import (
    cut, cut_mid_event, error_status, hang, malformed, rate_limited, reply, tool_call,
)

KEY = "sk-secret-0123456789abcdef"
FLAVOURS = ["openai", "anthropic"]
TOOLS = [ToolSpec("run", "Run a shell command", {
    "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]})]


class Sleeps(list):
    """Records the waits a client asks for, without waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(flavour: str, server: LLMServer, **options: object) -> HTTPLLMClient:
    options.setdefault("retry", RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02))
    options.setdefault("read_timeout", 5.0)
    if flavour == "openai":
        return OpenAIChatClient(server.base_url, KEY, **options)
    return AnthropicClient(server.url, KEY, **options)


async def ask(client: HTTPLLMClient, **kw: object):
    try:
        return await client.complete([Message.system("be brief"), Message.user("hi")], TOOLS,
                                     model="test-model", max_tokens=100, **kw)
    finally:
        await client.aclose()


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_streams_text_and_tool_calls(llm_server: LLMServer, flavour: str) -> None:
    llm_server.enqueue(reply("Looking at the files now.",
                             tool_call("run", {"command": "ls -la"}, id="call_a"),
                             tool_call("run", {"command": "pwd"}, id="call_b"),
                             input_tokens=123, output_tokens=45))
    pieces: list[str] = []
    result = await ask(make(flavour, llm_server), on_text_delta=pieces.append)
    assert result.text == "Looking at the files now."
    assert len(pieces) > 1 and "".join(pieces) == result.text
    assert result.tool_calls == [ToolCall("call_a", "run", {"command": "ls -la"}),
                                 ToolCall("call_b", "run", {"command": "pwd"})]
    assert (result.usage.input_tokens, result.usage.output_tokens) == (123, 45)
    assert result.stop_reason == "tool_use"
    (request,) = llm_server.llm_requests()
    assert request.body["stream"] is True and request.body["model"] == "test-model"
    if flavour == "openai":
        assert request.path == "/v1/chat/completions"
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert request.body["messages"][0] == {"role": "system", "content": "be brief"}
        assert request.body["tools"][0]["function"]["name"] == "run"
    else:
        assert request.path == "/v1/messages"
        assert request.headers["x-api-key"] == KEY and request.headers["anthropic-version"]
        assert request.body["system"] == "be brief"
        assert request.body["tools"][0]["input_schema"]["required"] == ["command"]


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_conversation_with_tool_results_goes_out_in_the_api_shape(
        llm_server: LLMServer, flavour: str) -> None:
    llm_server.enqueue(reply("ok"))
    call = ToolCall("call_1", "run", {"command": "ls"})
    client = make(flavour, llm_server)
    await client.complete([Message.system("sys"), Message.user("list"),
                           Message.assistant("", [call]), Message.tool_result("call_1", "a.txt"),
                           Message.user("and now?")], TOOLS, model="m", max_tokens=10)
    await client.aclose()
    sent = llm_server.llm_requests()[0].body["messages"]
    if flavour == "openai":
        assert sent[2]["tool_calls"][0]["function"] == {"name": "run",
                                                        "arguments": '{"command": "ls"}'}
        assert sent[3] == {"role": "tool", "tool_call_id": "call_1", "content": "a.txt"}
        assert sent[4] == {"role": "user", "content": "and now?"}
    else:
        assert [m["role"] for m in sent] == ["user", "assistant", "user"]
        assert sent[1]["content"] == [{"type": "tool_use", "id": "call_1", "name": "run",
                                       "input": {"command": "ls"}}]
        assert sent[2]["content"][0]["type"] == "tool_result"
        assert sent[2]["content"][1] == {"type": "text", "text": "and now?"}


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_429_waits_retry_after_then_succeeds(llm_server: LLMServer, flavour: str) -> None:
    llm_server.enqueue(rate_limited(retry_after=7), reply("made it"))
    sleeps, signals = Sleeps(), []
    client = make(flavour, llm_server, sleep=sleeps, on_rate_limited=signals.append)
    result = await ask(client)
    assert result.text == "made it"
    assert signals == [7.0]
    assert len(sleeps) == 1 and 7.0 <= sleeps[0] <= 7.25
    assert len(llm_server.llm_requests()) == 2


async def test_429_with_http_date_is_honoured(llm_server: LLMServer) -> None:
    llm_server.enqueue(rate_limited(retry_after=formatdate(time.time() + 30, usegmt=True)),
                       reply("ok"))
    sleeps = Sleeps()
    await ask(make("openai", llm_server, sleep=sleeps))
    assert 25 <= sleeps[0] <= 31


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_429_every_time_raises_rate_limited(llm_server: LLMServer, flavour: str) -> None:
    llm_server.enqueue(*[rate_limited(retry_after=3)] * 3)
    with pytest.raises(RateLimited) as info:
        await ask(make(flavour, llm_server, sleep=Sleeps()))
    assert info.value.retry_after == 3.0 and info.value.attempts == 3
    assert "429" in str(info.value) and "gave up after 3 attempts" in str(info.value)


async def test_long_retry_after_is_handed_to_the_caller_at_once(llm_server: LLMServer) -> None:
    llm_server.enqueue(rate_limited(retry_after=3600), reply("never asked"))
    with pytest.raises(RateLimited) as info:
        await ask(make("anthropic", llm_server, sleep=Sleeps()))
    assert info.value.retry_after == 3600 and len(llm_server.llm_requests()) == 1


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_repeated_500_gives_a_clear_error(llm_server: LLMServer, flavour: str) -> None:
    llm_server.enqueue(*[error_status(500, "the GPUs are on fire")] * 3)
    sleeps = Sleeps()
    with pytest.raises(LLMError) as info:
        await ask(make(flavour, llm_server, sleep=sleeps))
    message = str(info.value)
    assert info.value.status == 500 and info.value.attempts == 3
    assert "HTTP 500: the GPUs are on fire" in message and llm_server.url in message
    assert len(sleeps) == 2 and sleeps[1] > 0


async def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=1, max_delay=5)
    for attempt, full in [(1, 1), (2, 2), (3, 4), (4, 5), (9, 5)]:
        delays = [policy.delay(attempt) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays)
        assert len(set(delays)) > 1  # jittered


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_client_errors_are_not_retried(llm_server: LLMServer, flavour: str) -> None:
    llm_server.enqueue(error_status(400, "max_tokens: too large"), reply("unused"))
    with pytest.raises(LLMError, match="HTTP 400: max_tokens: too large") as info:
        await ask(make(flavour, llm_server))
    assert info.value.attempts == 1 and llm_server.remaining == 1


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_hung_server_hits_the_read_timeout(llm_server: LLMServer, flavour: str) -> None:
    llm_server.enqueue(hang(), hang(after=3))
    client = make(flavour, llm_server, read_timeout=0.2,
                  retry=RetryPolicy(attempts=2, base_delay=0.01))
    with pytest.raises(LLMTimeout, match="read timeout") as info:
        await ask(client)
    assert info.value.attempts == 2


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_malformed_json_is_a_protocol_error(llm_server: LLMServer, flavour: str) -> None:
    llm_server.enqueue(malformed(), reply("unused"))
    with pytest.raises(LLMProtocolError, match="malformed JSON"):
        await ask(make(flavour, llm_server))
    assert llm_server.remaining == 1


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_cut_stream_is_retried(llm_server: LLMServer, flavour: str) -> None:
    llm_server.enqueue(cut(after=3), reply("whole answer"))
    assert (await ask(make(flavour, llm_server))).text == "whole answer"


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("after, keep", [(2, 50), (2, -1), (-1, -1)],
                         ids=["inside-the-json", "before-the-blank-line", "the-end-marker"])
async def test_stream_closed_inside_an_event_is_retried(llm_server: LLMServer, flavour: str,
                                                        after: int, keep: int) -> None:
    """HTTP sees a clean end of body (the stream is unframed); only the SSE framing shows
    the cut: an event without its blank line, e.g. ``[DONE]`` / ``message_stop`` itself."""
    llm_server.enqueue(cut_mid_event(after, keep), reply("whole answer"))
    notices: list[RetryNotice] = []
    result = await ask(make(flavour, llm_server, sleep=Sleeps()), on_retry=notices.append)
    assert result.text == "whole answer" and len(llm_server.llm_requests()) == 2
    (notice,) = notices
    assert "the stream broke off in the middle of an event" in notice.reason
    assert (notice.attempt, notice.attempts, notice.status) == (2, 3, None)


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_each_retry_is_announced_with_its_reason_and_wait(llm_server: LLMServer,
                                                                flavour: str) -> None:
    llm_server.enqueue(error_status(500, "the GPUs are on fire"), rate_limited(retry_after=7),
                       reply("made it"))
    sleeps, notices = Sleeps(), []
    client = make(flavour, llm_server, sleep=sleeps)
    name = client.name
    assert (await ask(client, on_retry=notices.append)).text == "made it"
    assert [n.delay for n in notices] == sleeps
    assert [str(n) for n in notices] == [
        f"LLM request to {name} failed (HTTP 500: the GPUs are on fire), retrying in "
        f"{sleeps[0]:.1f} s (attempt 2 of 3)",
        f"LLM request to {name} failed (rate limited (HTTP 429): rate limited), retrying in "
        f"{sleeps[1]:.1f} s (attempt 3 of 3)"]
    assert [n.status for n in notices] == [500, 429]


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_stream_cut_every_time_fails(llm_server: LLMServer, flavour: str) -> None:
    llm_server.enqueue(*[cut(after=2)] * 3)
    with pytest.raises(LLMConnectionError):
        await ask(make(flavour, llm_server))


async def test_nothing_listening_is_a_connection_error() -> None:
    with LLMServer() as server:
        url = server.base_url
    client = OpenAIChatClient(url, KEY, retry=RetryPolicy(attempts=2, base_delay=0.01))
    with pytest.raises(LLMConnectionError, match="connection failed"):
        await ask(client)


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_the_key_never_shows(llm_server: LLMServer, flavour: str,
                                   caplog: pytest.LogCaptureFixture) -> None:
    echo = f"Incorrect API key provided: {KEY}"
    llm_server.enqueue(error_status(503, echo), error_status(401, echo))
    caplog.set_level(logging.DEBUG)
    notices: list[RetryNotice] = []
    with pytest.raises(LLMError) as info:
        await ask(make(flavour, llm_server, sleep=Sleeps()), on_retry=notices.append)
    shown = "".join(traceback.format_exception(info.value)) + repr(info.value) + caplog.text
    shown += repr(notices)
    assert "[redacted]" in str(notices[0])
    assert "Incorrect API key provided: [redacted]" in str(info.value)
    assert "check the API key" in str(info.value)
    assert KEY not in shown


async def test_tool_arguments_that_are_not_json_are_flagged(llm_server: LLMServer) -> None:
    llm_server.enqueue(reply("", tool_call("run", '{"command": "ls"', id="c1")))
    result = await ask(make("openai", llm_server))
    assert result.tool_calls == [ToolCall("c1", "run", {}, invalid_args='{"command": "ls"')]


async def test_anthropic_base_url_with_or_without_v1(llm_server: LLMServer) -> None:
    llm_server.enqueue(reply("a"), reply("b"))
    for base in (llm_server.url, llm_server.base_url):
        client = AnthropicClient(base, None)
        await ask(client)
    assert [r.path for r in llm_server.llm_requests()] == ["/v1/messages"] * 2
    assert "x-api-key" not in llm_server.llm_requests()[0].headers


def test_openai_token_parameter_follows_the_host() -> None:
    assert OpenAIChatClient("https://api.openai.com/v1").token_param == "max_completion_tokens"
    assert OpenAIChatClient("http://127.0.0.1:11434/v1").token_param == "max_tokens"


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "12"}) == 12
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": formatdate(1000, usegmt=True)}, now=990) == 10
    assert parse_retry_after({"retry-after": formatdate(1000, usegmt=True)}, now=2000) == 0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


async def _lines(*lines: str):
    for line in lines:
        yield line


async def test_sse_framing() -> None:
    events = sse_events(_lines(": comment", "event: a", "data: 1", "data: 2", "", "",
                               "data: x", "", ": a trailing comment is no event"))
    got = [(e.event, e.data) async for e in events]
    assert got == [("a", "1\n2"), ("", "x")]


async def test_sse_event_without_its_blank_line_is_a_cut_not_an_event() -> None:
    got = []
    with pytest.raises(StreamCut) as info:
        async for event in sse_events(_lines("data: 1", "", "event: b", "data: [DO")):
            got.append(event.data)
    assert got == ["1"] and info.value.partial == "event: b\ndata: [DO"
