"""Test doubles that are real programs: a scripted LLM server on 127.0.0.1.

Use the `llm_server` fixture (``pytest_plugins = ["tests.fakes.llm_server"]`` in a
conftest, or import it into the test module) or `LLMServer` as a context manager, and
script it with the helpers of `tests.fakes.scripts`.
"""
