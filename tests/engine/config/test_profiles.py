"""Agent profiles: built-ins, user overrides, and every validation message."""
from pathlib import Path

import pytest

from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.config.profiles import (
    KINDS, builtin_profiles, load_profiles, validate_profiles_text, write_user_profiles,
)
from agentdeck.engine.config.resources import resource_path, resources_dir
from tests.engine.processkit import ROOT


def test_resources_dir_is_the_repo_resources_folder() -> None:
    assert resources_dir() == ROOT / "agentdeck" / "resources"
    assert resource_path("agents.toml").is_file()


def test_builtin_profiles() -> None:
    profiles = builtin_profiles()
    assert set(profiles) == {"shell", "claude", "codex", "aider", "gemini", "builtin"}
    assert {p.kind for p in profiles.values()} == set(KINDS)
    assert profiles["shell"].command == ("sh", "-c", "{prompt}")
    claude = profiles["claude"]
    assert claude.kind == "claude_code"
    assert claude.command[:3] == ("claude", "-p", "{prompt}")
    assert claude.command[3:5] == ("--output-format", "stream-json")
    assert claude.env == ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")
    assert claude.secrets == ("ANTHROPIC_API_KEY",)
    assert profiles["codex"].command == (
        "codex", "exec", "--json", "--skip-git-repo-check", "{prompt}")
    assert "OPENAI_API_KEY" in profiles["codex"].secrets
    assert {"--yes-always", "--no-auto-commits", "--no-git"} <= set(profiles["aider"].command)
    assert profiles["gemini"].secrets == ("GEMINI_API_KEY",)
    assert profiles["builtin"].command == ()
    assert profiles["builtin"].provider and profiles["builtin"].model


def test_without_a_user_file_the_builtins_are_used(tmp_path: Path) -> None:
    assert load_profiles(tmp_path) == builtin_profiles()


def test_user_file_overrides_fields_by_name_and_adds_profiles(tmp_path: Path) -> None:
    (tmp_path / "agents.toml").write_text(
        '[profiles.claude]\ntimeout = 3600\nmodel = "opus"\n\n'
        '[profiles.lint]\nkind = "shell"\ncommand = ["ruff", "check", "--fix", "{prompt}"]\n'
        'runtime = "docker"\nmemory = "512m"\ncpus = 0.5\npids = 64\nnetwork = false\n'
        '[profiles.lint.options]\nlevel = 3\n'
    )
    profiles = load_profiles(tmp_path)
    claude = profiles["claude"]
    assert claude.timeout == 3600.0 and claude.model == "opus"
    assert claude.command == builtin_profiles()["claude"].command  # untouched fields kept
    lint = profiles["lint"]
    assert (lint.name, lint.runtime, lint.memory, lint.cpus, lint.pids) == (
        "lint", "docker", "512m", 0.5, 64)
    assert lint.options == {"level": 3}
    assert profiles["shell"] == builtin_profiles()["shell"]


def test_an_override_can_change_the_kind_and_command() -> None:
    profiles = validate_profiles_text('[profiles.shell]\ncommand = ["bash", "-c", "{prompt}"]\n')
    assert profiles["shell"].command == ("bash", "-c", "{prompt}")


def test_base_empty_makes_tables_stand_alone() -> None:
    with pytest.raises(InvalidInput, match=r"line 1: profile 'claude', field 'command': has no"):
        validate_profiles_text("[profiles.claude]\ntimeout = 5\n", base={})


def error(text: str, source: str = "agents.toml") -> str:
    with pytest.raises(InvalidInput) as caught:
        validate_profiles_text(text, source=source)
    return str(caught.value)


def test_syntax_error_names_file_line_and_column() -> None:
    text = '[profiles.x]\nkind = "shell"\ncommand = ["sh" "-c"]\n'
    message = error(text, source="/d/agents.toml")
    assert message.startswith("/d/agents.toml line 3, column ")
    assert "invalid TOML" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[profiles.claude]\nnetwork = true\ntimout = 60\n',
         "agents.toml line 3: profile 'claude': unknown field 'timout'; known: budget_usd, command"),
        ('[profiles.x]\nkind = "robot"\ncommand = ["a", "{prompt}"]\n',
         "agents.toml line 2: profile 'x', field 'kind': 'robot' is not a kind; use one of "
         "shell, claude_code, codex, aider, gemini, builtin"),
        ('[profiles.claude]\ntimeout = "1h"\n',
         "agents.toml line 2: profile 'claude', field 'timeout': expected a number above zero"),
        ('[profiles.claude]\ntimeout = -1\n',
         "line 2: profile 'claude', field 'timeout': expected a number above zero, got -1"),
        ('[profiles.claude]\npids = 1.5\n',
         "line 2: profile 'claude', field 'pids': expected a whole number above zero, got 1.5"),
        ('[profiles.claude]\ncpus = true\n',
         "line 2: profile 'claude', field 'cpus': expected a number above zero, got True"),
        ('[profiles.claude]\nnetwork = "yes"\n',
         "line 2: profile 'claude', field 'network': expected true or false, got 'yes'"),
        ('[profiles.claude]\nmemory = "lots"\n',
         "line 2: profile 'claude', field 'memory': expected a size such as \"512m\""),
        ('[profiles.claude]\nenv = "ANTHROPIC_API_KEY"\n',
         "line 2: profile 'claude', field 'env': expected a list of strings"),
        ('[profiles.claude]\nsecrets = ["API-KEY"]\n',
         "line 2: profile 'claude', field 'secrets': 'API-KEY' is not an environment variable"),
        ('[profiles.claude]\nmodel = ""\n',
         "line 2: profile 'claude', field 'model': expected a non-empty string"),
        ('[profiles.claude]\noptions = 3\n',
         "line 2: profile 'claude', field 'options': expected a table, got 3"),
        ('[profiles.x]\nkind = "shell"\ncommand = ["run", "{promt}"]\n',
         "line 3: profile 'x', field 'command': unknown placeholder {promt} in '{promt}'; "
         "use {prompt}, {task_id}, {title}, {session_id}"),
        ('[profiles.x]\ncommand = ["awk", "{print}"]\n',
         "line 2: profile 'x', field 'command': unknown placeholder {print}"),
        ('[profiles.x]\ncommand = ["a", "{prompt"]\n',
         "line 2: profile 'x', field 'command': argument '{prompt': "),
        ('[profiles.x]\ncommand = ["echo", "{{prompt}}"]\n',
         "line 2: profile 'x', field 'command': needs a command containing {prompt}"),
        ('# my agents\n\n[profiles.x]\nkind = "codex"\n',
         "line 3: profile 'x', field 'command': has no command"),
        ('[profiles."bad name"]\ncommand = ["a", "{prompt}"]\n',
         "line 1: profile 'bad name': a name may hold letters, digits"),
        ('[profiles]\nx = 3\n',
         "line 2: profile 'x' must be a table: write [profiles.x]"),
        ('profiles = 3\n',
         "line 1: 'profiles' must be a table of [profiles.NAME] tables"),
        ('[agents.x]\ncommand = ["a"]\n',
         "line 1: unknown top-level key 'agents'; write [profiles.NAME] tables"),
    ],
)
def test_invalid_profiles_name_line_profile_field_and_reason(text: str, expected: str) -> None:
    assert expected in error(text)


def test_error_lines_skip_multiline_strings_and_arrays() -> None:
    text = (
        "[profiles.x]\n"
        'command = [\n  "sh",\n  "-c",\n  """\n[profiles.y]\ntimout = 1\n{prompt}""",\n]\n'
        "pids = 0\n"
    )
    assert "agents.toml line 10: profile 'x', field 'pids'" in error(text)


def test_load_profiles_reports_the_user_file(tmp_path: Path) -> None:
    user_file = tmp_path / "agents.toml"
    user_file.write_text("[profiles.shell]\nkind = 'bash'\n")
    with pytest.raises(InvalidInput, match=rf"^{user_file} line 2: profile 'shell', field 'kind'"):
        load_profiles(tmp_path)
    user_file.write_bytes(b"\xff\xfe")
    with pytest.raises(InvalidInput, match=rf"cannot read agent profiles {user_file}"):
        load_profiles(tmp_path)


def test_write_user_profiles_replaces_the_file_only_when_valid(tmp_path: Path) -> None:
    profiles = write_user_profiles(tmp_path, "[profiles.claude]\ntimeout = 60\n")
    assert profiles["claude"].timeout == 60.0
    assert load_profiles(tmp_path)["claude"].timeout == 60.0
    with pytest.raises(InvalidInput, match="field 'timeout'"):
        write_user_profiles(tmp_path, "[profiles.claude]\ntimeout = 'x'\n")
    assert (tmp_path / "agents.toml").read_text() == "[profiles.claude]\ntimeout = 60\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agents.toml"]
