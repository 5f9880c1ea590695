from __future__ import annotations

import re
from pathlib import Path

import pytest

from nimbus.config import ConfigError, LLMProvider, load_settings, setting_names

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    missing = [name for name in setting_names() if name not in documented]
    assert not missing, f"undocumented settings: {missing}"
    stale = documented - set(setting_names())
    assert not stale, f".env.example documents unknown settings: {stale}"


def test_every_setting_is_documented_in_the_configuration_guide() -> None:
    guide = (ROOT / "docs" / "configuration.md").read_text()
    assert [name for name in setting_names() if f"`{name}`" not in guide] == []


def test_defaults_run_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.llm.chosen_provider is LLMProvider.LOCAL
    assert settings.database.configured_url() is None
    assert settings.sessions.expire_minutes == 1440
    assert settings.server.data_dir == Path("~/.local/share/nimbus").expanduser()


def test_api_key_or_base_url_selects_the_openai_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    assert load_settings(env_file=None).llm.chosen_provider is LLMProvider.OPENAI
    monkeypatch.setenv("NIMBUS_LLM_PROVIDER", "local")
    assert load_settings(env_file=None).llm.chosen_provider is LLMProvider.LOCAL


def test_db_parts_compose_a_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "DB_NAME": "chat",
        "DB_USER": "me",
        "DB_PASSWORD": "p@ss:w/rd",
        "DB_HOST": "db",
        "DB_PORT": "6543",
    }.items():
        monkeypatch.setenv(name, value)
    url = load_settings(env_file=None).database.configured_url()
    assert url == "postgresql+psycopg://me:p%40ss%3Aw%2Frd@db:6543/chat"


def test_database_url_wins_and_is_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_HOST", "ignored")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@h:5432/d")
    assert load_settings(env_file=None).database.configured_url() == "postgresql+psycopg://u:p@h:5432/d"


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("SESSION_EXPIRE_MINUTES=15\nNIMBUS_LLM_MODEL=llama3\n")
    settings = load_settings(env_file=env)
    assert settings.sessions.expire_minutes == 15
    assert settings.llm.model == "llama3"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SESSION_EXPIRE_MINUTES", "soon"),
        ("DB_PORT", "70000"),
        ("NIMBUS_LLM_PROVIDER", "anthropic"),
        ("DATABASE_URL", "mysql://u:p@h/d"),
        ("NIMBUS_LOG_LEVEL", "LOUD"),
    ],
)
def test_invalid_settings_fail_naming_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings(env_file=None)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"NIMBUS_CHUNK_TOKENS": "64", "NIMBUS_CHUNK_OVERLAP_TOKENS": "64"}, "NIMBUS_CHUNK_OVERLAP_TOKENS"),
        ({"NIMBUS_EMBEDDING_PROVIDER": "openai"}, "NIMBUS_EMBEDDING_MODEL"),
    ],
)
def test_inconsistent_knowledge_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], named: str
) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=named):
        load_settings(env_file=None)


def test_youtube_languages_accept_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIMBUS_YOUTUBE_LANGUAGES", "de, en")
    assert load_settings(env_file=None).knowledge.youtube_languages == ["de", "en"]


def test_secrets_are_not_echoed_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://user:hunter2@h/d")
    with pytest.raises(ConfigError) as error:
        load_settings(env_file=None)
    assert "hunter2" not in str(error.value)
