"""The scripted LLM server speaks each wire format as the real APIs do, and plays faults.

Checked with plain httpx and a hand-rolled SSE split, independent of engine.llm.
(The real ``claude`` 2.1 and ``codex`` 0.169 CLIs were also run against it by hand: both
completed a tool-calling conversation; see docs/builtin-agent.md.)
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading

import httpx
import pytest

from tests.fakes.llm_server import LLMServer
from tests.fakes.scripts import cut, cut_mid_event, hang, malformed, rate_limited, reply, tool_call

CALL = tool_call("exec_command", {"cmd": "ls -la"}, id="call_9")


def sse(text: str) -> list[tuple[str, str]]:
    """(event name, data) of each SSE event in a complete body."""
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields.get("event", ""), fields["data"]))
    return events


def post(server: LLMServer, path: str, body: dict, **kw) -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=5, **kw)


def test_chat_completions_stream(llm_server: LLMServer) -> None:
    llm_server.enqueue(reply("Hello there, friend", CALL, input_tokens=7, output_tokens=3))
    body = {"model": "gpt-x", "stream": True, "stream_options": {"include_usage": True}}
    events = sse(post(llm_server, "/v1/chat/completions", body).text)
    assert events[-1] == ("", "[DONE]")
    chunks = [json.loads(data) for _, data in events[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0]["role"] == "assistant"
    assert "".join(d.get("content") or "" for d in deltas) == "Hello there, friend"
    calls = [tc for d in deltas for tc in d.get("tool_calls", [])]
    assert calls[0]["id"] == "call_9" and calls[0]["function"]["name"] == "exec_command"
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"cmd": "ls -la"}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 7
    assert all(c["model"] == "gpt-x" and c["object"] == "chat.completion.chunk" for c in chunks)


def test_chat_completions_without_stream_and_without_usage_option(llm_server: LLMServer) -> None:
    llm_server.enqueue(reply("hi", output_tokens=2), reply("streamed"))
    data = post(llm_server, "/v1/chat/completions", {"model": "m"}).json()
    assert data["choices"][0]["message"]["content"] == "hi"
    assert data["usage"]["completion_tokens"] == 2
    events = sse(post(llm_server, "/v1/chat/completions", {"stream": True}).text)
    assert not any("usage" in json.loads(d) for _, d in events[:-1])  # not asked for


def test_anthropic_messages_stream(llm_server: LLMServer) -> None:
    llm_server.enqueue(reply("Let me check.", CALL, input_tokens=11, output_tokens=22))
    events = sse(post(llm_server, "/v1/messages?beta=true",
                      {"model": "claude-x", "stream": True}).text)
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == ["message_delta",
                                                                     "message_stop"]
    data = [json.loads(d) for _, d in events]
    assert all(d["type"] == name for d, name in zip(data, names, strict=True))
    assert data[0]["message"]["usage"]["input_tokens"] == 11
    starts = [d["content_block"] for d in data if d["type"] == "content_block_start"]
    assert starts[0] == {"type": "text", "text": ""}
    assert starts[1] == {"type": "tool_use", "id": "call_9", "name": "exec_command", "input": {}}
    deltas = [d["delta"] for d in data if d["type"] == "content_block_delta"]
    assert "".join(d.get("text", "") for d in deltas) == "Let me check."
    assert json.loads("".join(d.get("partial_json", "") for d in deltas)) == {"cmd": "ls -la"}
    assert data[-2]["delta"]["stop_reason"] == "tool_use" and data[-2]["usage"] == {
        "output_tokens": 22}


def test_anthropic_messages_json(llm_server: LLMServer) -> None:
    llm_server.enqueue(reply("ok", CALL))
    data = post(llm_server, "/v1/messages", {"model": "claude-x"}).json()
    assert data["content"] == [{"type": "text", "text": "ok"}, {
        "type": "tool_use", "id": "call_9", "name": "exec_command", "input": {"cmd": "ls -la"}}]
    assert data["stop_reason"] == "tool_use" and data["role"] == "assistant"


def test_responses_stream(llm_server: LLMServer) -> None:
    llm_server.enqueue(reply("Running it.", CALL, tool_call("apply_patch", "*** Begin Patch",
                                                            custom=True),
                             input_tokens=5, output_tokens=6))
    events = sse(post(llm_server, "/v1/responses", {"model": "gpt-5", "stream": True}).text)
    data = [json.loads(d) for _, d in events]
    assert [d["sequence_number"] for d in data] == list(range(len(data)))
    assert all(d["type"] == name for d, (name, _) in zip(data, events, strict=True))
    kinds = [d["type"] for d in data]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds[-1] == "response.completed"
    text = "".join(d["delta"] for d in data if d["type"] == "response.output_text.delta")
    assert text == "Running it."
    done = [d["item"] for d in data if d["type"] == "response.output_item.done"]
    assert [i["type"] for i in done] == ["message", "function_call", "custom_tool_call"]
    assert done[1]["call_id"] == "call_9" and json.loads(done[1]["arguments"]) == {"cmd": "ls -la"}
    assert done[2]["input"] == "*** Begin Patch"
    final = data[-1]["response"]
    assert final["status"] == "completed" and final["output"] == done
    assert final["usage"]["input_tokens"] == 5 and final["usage"]["total_tokens"] == 11


def test_gemini_stream_and_json(llm_server: LLMServer) -> None:
    write = tool_call("write_file", {"file_path": "a.txt", "content": "hi\n"})
    llm_server.enqueue(reply("Writing it.", write, input_tokens=9, output_tokens=4),
                       reply("done", output_tokens=2))
    events = sse(post(llm_server, "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
                      {"contents": []}).text)
    data = [json.loads(d) for name, d in events if not name]
    assert len(data) == len(events)
    parts = [p for d in data for p in d["candidates"][0]["content"]["parts"]]
    assert "".join(p.get("text", "") for p in parts) == "Writing it."
    assert [p["functionCall"] for p in parts if "functionCall" in p] == [
        {"name": "write_file", "args": {"file_path": "a.txt", "content": "hi\n"}}]
    assert all("usageMetadata" not in d and "finishReason" not in d["candidates"][0]
               for d in data[:-1])
    assert data[-1]["candidates"][0]["finishReason"] == "STOP"
    assert {d["modelVersion"] for d in data} == {"gemini-2.5-pro"}  # named in the path
    assert data[-1]["usageMetadata"] == {"promptTokenCount": 9, "candidatesTokenCount": 4,
                                         "totalTokenCount": 13}
    body = post(llm_server, "/v1beta/models/gemini-2.5-flash:generateContent", {}).json()
    assert body["candidates"][0]["content"] == {"role": "model", "parts": [{"text": "done"}]}
    assert body["usageMetadata"]["candidatesTokenCount"] == 2
    assert len(llm_server.llm_requests()) == 2
    gone = post(llm_server, "/v1beta/models/m:generateContent", {})
    assert gone.status_code == 400 and gone.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_script_routing_default_and_exhaustion(llm_server: LLMServer) -> None:
    llm_server.enqueue(reply("for haiku"), when=lambda r: "haiku" in r.body["model"])
    llm_server.enqueue(reply("first"))
    said = lambda model: post(llm_server, "/v1/messages", {"model": model}).json()  # noqa: E731
    assert said("sonnet")["content"][0]["text"] == "first"
    assert said("haiku-4")["content"][0]["text"] == "for haiku"
    gone = post(llm_server, "/v1/messages", {"model": "x"})
    assert gone.status_code == 400 and "no scripted reply left" in gone.json()["error"]["message"]
    llm_server.default = reply("again")
    assert said("x")["content"][0]["text"] == "again"
    assert llm_server.remaining == 0


def test_requests_are_recorded_and_side_endpoints_answer(llm_server: LLMServer) -> None:
    assert httpx.get(llm_server.base_url + "/models").json()["data"]
    assert post(llm_server, "/v1/messages/count_tokens", {"messages": []}).json()["input_tokens"]
    assert post(llm_server, "/v1/nope", {}).status_code == 404
    llm_server.enqueue(reply("x"))
    post(llm_server, "/v1/chat/completions", {"model": "m"}, headers={"Authorization": "Bearer k"})
    (request,) = llm_server.llm_requests()
    assert (request.path, request.body, request.headers["authorization"]) == (
        "/v1/chat/completions", {"model": "m"}, "Bearer k")
    assert len(llm_server.requests) == 4


def test_429_carries_retry_after(llm_server: LLMServer) -> None:
    llm_server.enqueue(rate_limited(retry_after=3), rate_limited("Wed, 21 Oct 2015 07:28:00 GMT"))
    first = post(llm_server, "/v1/messages", {})
    second = post(llm_server, "/v1/chat/completions", {})
    assert first.status_code == 429 and first.headers["retry-after"] == "3"
    assert first.json()["error"]["type"] == "rate_limit_error"
    assert second.headers["retry-after"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert second.json()["error"]["code"] == "rate_limit_exceeded"


def test_hang_lasts_until_released(llm_server: LLMServer) -> None:
    llm_server.enqueue(hang())
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            post(llm_server, "/v1/messages", {})
        except httpx.HTTPError as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=call)
    waiter.start()
    llm_server.wait_for_requests(1)
    waiter.join(0.3)
    assert waiter.is_alive()  # still no answer
    llm_server.release()
    waiter.join(5)
    assert isinstance(outcome[0], httpx.RemoteProtocolError)


def test_cut_and_malformed(llm_server: LLMServer) -> None:
    llm_server.enqueue(cut(after=2), malformed(), malformed())
    with pytest.raises(httpx.RemoteProtocolError):
        post(llm_server, "/v1/responses", {"stream": True})
    with pytest.raises(ValueError):
        post(llm_server, "/v1/chat/completions", {}).json()
    (name, data), = sse(post(llm_server, "/v1/messages", {"stream": True}).text)
    with pytest.raises(ValueError):
        json.loads(data)


def test_cut_mid_event_ends_cleanly_inside_an_event(llm_server: LLMServer) -> None:
    llm_server.enqueue(cut_mid_event(after=2, keep=12), cut_mid_event(after=-1, keep=-1))
    body = {"stream": True}
    text = post(llm_server, "/v1/chat/completions", body).text  # no transport error
    *whole, partial = text.split("\n\n")
    assert len(whole) == 2 and partial == 'data: {"id":'
    text = post(llm_server, "/v1/messages", body).text
    assert text.endswith('event: message_stop\ndata: {"type": "message_stop"}\n')


def test_usable_from_another_process(llm_server: LLMServer) -> None:
    llm_server.enqueue(reply("from afar"))
    code = ("import json, sys, urllib.request as u;"
            "r = u.urlopen(u.Request(sys.argv[1], data=b'{}', "
            "headers={'Content-Type': 'application/json'}));"
            "print(json.load(r)['choices'][0]['message']['content'])")
    done = subprocess.run([sys.executable, "-c", code, llm_server.base_url + "/chat/completions"],
                          capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "from afar"
