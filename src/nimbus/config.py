"""Settings: one class per concern, read from the environment and `.env`, validated at start-up."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATA_DIR = Path("~/.local/share/nimbus")


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the environment variable."""


class _Base(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True)


class DatabaseSettings(_Base):
    """Where the data lives: a DSN, DB_* parts, or (neither) the embedded PostgreSQL."""

    url: SecretStr | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL"))
    name: str | None = Field(default=None, validation_alias=AliasChoices("DB_NAME"))
    user: str | None = Field(default=None, validation_alias=AliasChoices("DB_USER"))
    password: SecretStr | None = Field(default=None, validation_alias=AliasChoices("DB_PASSWORD"))
    host: str | None = Field(default=None, validation_alias=AliasChoices("DB_HOST"))
    port: int = Field(default=5432, ge=1, le=65535, validation_alias=AliasChoices("DB_PORT"))
    pool_size: int = Field(default=10, ge=1, validation_alias=AliasChoices("NIMBUS_DB_POOL_SIZE"))
    max_overflow: int = Field(default=20, ge=0, validation_alias=AliasChoices("NIMBUS_DB_MAX_OVERFLOW"))
    pool_timeout_seconds: float = Field(
        default=10.0, gt=0, validation_alias=AliasChoices("NIMBUS_DB_POOL_TIMEOUT_SECONDS")
    )
    migrate_on_start: bool = Field(default=True, validation_alias=AliasChoices("NIMBUS_DB_MIGRATE_ON_START"))
    embedded_port: int = Field(default=0, ge=0, le=65535, validation_alias=AliasChoices("NIMBUS_EMBEDDED_DB_PORT"))
    embedded_user: str = Field(default="nimbus-postgres", validation_alias=AliasChoices("NIMBUS_EMBEDDED_DB_OS_USER"))

    @field_validator("url")
    @classmethod
    def _postgres_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("postgresql", "postgres://")):
            raise ValueError("must be a PostgreSQL URL (postgresql://user:pass@host:5432/db)")
        return value

    def configured_url(self) -> str | None:
        """The SQLAlchemy URL from DATABASE_URL or DB_*, or None when the embedded server should be used."""
        if self.url is not None:
            return normalize_dsn(self.url.get_secret_value())
        if self.host or self.name or self.user:
            user = quote(self.user or "postgres", safe="")
            password = f":{quote(self.password.get_secret_value(), safe='')}" if self.password else ""
            host = self.host or "localhost"
            return f"postgresql+psycopg://{user}{password}@{host}:{self.port}/{self.name or 'nimbus'}"
        return None


def normalize_dsn(dsn: str) -> str:
    """Force the psycopg 3 driver whatever scheme spelling the operator used."""
    for prefix in ("postgresql+psycopg2://", "postgresql+asyncpg://", "postgresql://", "postgres://"):
        if dsn.startswith(prefix):
            return "postgresql+psycopg://" + dsn[len(prefix) :]
    return dsn


class LLMProvider(StrEnum):
    LOCAL = "local"
    OPENAI = "openai"


class LLMSettings(_Base):
    """Which model answers, and how it is reached."""

    provider: LLMProvider | None = Field(default=None, validation_alias=AliasChoices("NIMBUS_LLM_PROVIDER"))
    base_url: str | None = Field(default=None, validation_alias=AliasChoices("NIMBUS_LLM_BASE_URL"))
    model: str | None = Field(default=None, validation_alias=AliasChoices("NIMBUS_LLM_MODEL"))
    api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    api_version: str | None = Field(default=None, validation_alias=AliasChoices("NIMBUS_LLM_API_VERSION"))
    model_path: Path | None = Field(default=None, validation_alias=AliasChoices("NIMBUS_LLM_MODEL_PATH"))
    timeout_seconds: float = Field(default=60.0, gt=0, validation_alias=AliasChoices("NIMBUS_LLM_TIMEOUT_SECONDS"))
    max_retries: int = Field(default=3, ge=0, le=10, validation_alias=AliasChoices("NIMBUS_LLM_MAX_RETRIES"))
    temperature: float = Field(default=0.2, ge=0, le=2, validation_alias=AliasChoices("NIMBUS_LLM_TEMPERATURE"))
    max_tokens: int = Field(default=1024, ge=1, validation_alias=AliasChoices("NIMBUS_LLM_MAX_TOKENS"))
    context_tokens: int = Field(default=4096, ge=256, validation_alias=AliasChoices("NIMBUS_LLM_CONTEXT_TOKENS"))
    threads: int = Field(default=0, ge=0, validation_alias=AliasChoices("NIMBUS_LLM_THREADS"))
    system_prompt: str = Field(
        default="You are Nimbus, a helpful, concise assistant. Answer in the language of the question.",
        validation_alias=AliasChoices("NIMBUS_LLM_SYSTEM_PROMPT"),
    )

    @property
    def chosen_provider(self) -> LLMProvider:
        """The explicit provider, else `openai` when a key or endpoint is set, else the offline `local`."""
        if self.provider is not None:
            return self.provider
        remote = self.api_key is not None or self.base_url is not None
        return LLMProvider.OPENAI if remote else LLMProvider.LOCAL


class SessionSettings(_Base):
    """Anonymous session lifetime and the cleanup job."""

    expire_minutes: int = Field(default=1440, ge=1, validation_alias=AliasChoices("SESSION_EXPIRE_MINUTES"))
    cleanup_interval_seconds: float = Field(
        default=300.0, gt=0, validation_alias=AliasChoices("NIMBUS_CLEANUP_INTERVAL_SECONDS")
    )
    touch_interval_seconds: float = Field(
        default=60.0, ge=0, validation_alias=AliasChoices("NIMBUS_SESSION_TOUCH_SECONDS")
    )


class ChatSettings(_Base):
    """Limits and memory of a conversation."""

    max_message_chars: int = Field(default=32_000, ge=1, validation_alias=AliasChoices("NIMBUS_CHAT_MAX_MESSAGE_CHARS"))
    history_tokens: int = Field(default=2048, ge=0, validation_alias=AliasChoices("NIMBUS_CHAT_HISTORY_TOKENS"))
    title_chars: int = Field(default=60, ge=8, le=200, validation_alias=AliasChoices("NIMBUS_CHAT_TITLE_CHARS"))


class EmbeddingProvider(StrEnum):
    LOCAL = "local"
    OPENAI = "openai"


class EmbeddingPrecision(StrEnum):
    """How the local embedding model computes: bfloat16 where the CPU has native support (auto), or as set."""

    AUTO = "auto"
    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"


def _env_field(name: str, default: Any, **constraints: Any) -> Any:
    return Field(default=default, validation_alias=AliasChoices(name), **constraints)


class KnowledgeSettings(_Base):
    """Ingestion, embeddings and retrieval."""

    embedding_provider: EmbeddingProvider = _env_field("NIMBUS_EMBEDDING_PROVIDER", EmbeddingProvider.LOCAL)
    embedding_model: str | None = _env_field("NIMBUS_EMBEDDING_MODEL", None)
    embedding_base_url: str | None = _env_field("NIMBUS_EMBEDDING_BASE_URL", None)
    embedding_batch_size: int = _env_field("NIMBUS_EMBEDDING_BATCH_SIZE", 16, ge=1, le=1024)
    embedding_precision: EmbeddingPrecision = _env_field("NIMBUS_EMBEDDING_PRECISION", EmbeddingPrecision.AUTO)
    chunk_tokens: int = _env_field("NIMBUS_CHUNK_TOKENS", 200, ge=32, le=8192)
    chunk_overlap_tokens: int = _env_field("NIMBUS_CHUNK_OVERLAP_TOKENS", 24, ge=0)
    max_upload_mb: int = _env_field("NIMBUS_MAX_UPLOAD_MB", 200, ge=1)
    ingest_workers: int = _env_field("NIMBUS_INGEST_WORKERS", 1, ge=0, le=16)
    youtube_languages: Annotated[list[str], NoDecode] = _env_field("NIMBUS_YOUTUBE_LANGUAGES", ["en"])
    youtube_proxy_url: str | None = _env_field("NIMBUS_YOUTUBE_PROXY_URL", None)
    web_max_bytes: int = _env_field("NIMBUS_WEB_MAX_BYTES", 10 * 1024 * 1024, ge=1024)
    web_timeout_seconds: float = _env_field("NIMBUS_WEB_TIMEOUT_SECONDS", 20.0, gt=0)
    web_allow_private: bool = _env_field("NIMBUS_WEB_ALLOW_PRIVATE", False)
    top_k: int = _env_field("NIMBUS_RETRIEVAL_TOP_K", 6, ge=1, le=50)
    candidates: int = _env_field("NIMBUS_RETRIEVAL_CANDIDATES", 100, ge=10, le=1000)
    vector_weight: float = _env_field("NIMBUS_RETRIEVAL_VECTOR_WEIGHT", 0.5, ge=0, le=1)
    min_similarity: float = _env_field("NIMBUS_RETRIEVAL_MIN_SIMILARITY", 0.25, ge=-1, le=1)
    text_search_config: str = _env_field("NIMBUS_TEXT_SEARCH_CONFIG", "english", pattern=r"^[a-z_]+$")

    @model_validator(mode="after")
    def _consistent(self) -> KnowledgeSettings:
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise ValueError("NIMBUS_CHUNK_OVERLAP_TOKENS must be smaller than NIMBUS_CHUNK_TOKENS")
        if self.embedding_provider is EmbeddingProvider.OPENAI and not self.embedding_model:
            raise ValueError("NIMBUS_EMBEDDING_MODEL is required when NIMBUS_EMBEDDING_PROVIDER=openai")
        return self

    @field_validator("youtube_languages", mode="before")
    @classmethod
    def _split_languages(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class ServerSettings(_Base):
    """The HTTP server, the UI and where local state is kept."""

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, validation_alias=AliasChoices("NIMBUS_DATA_DIR"))
    host: str = Field(default="127.0.0.1", validation_alias=AliasChoices("NIMBUS_HOST"))
    port: int = Field(default=8000, ge=1, le=65535, validation_alias=AliasChoices("NIMBUS_PORT"))
    ui_port: int = Field(default=8501, ge=1, le=65535, validation_alias=AliasChoices("NIMBUS_UI_PORT"))
    api_url: str = Field(default="http://127.0.0.1:8000", validation_alias=AliasChoices("NIMBUS_API_URL"))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias=AliasChoices("NIMBUS_LOG_LEVEL")
    )
    cors_origins: list[str] = Field(default_factory=list, validation_alias=AliasChoices("NIMBUS_CORS_ORIGINS"))

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class Settings(BaseModel):
    """Everything Nimbus reads from its environment, grouped by concern."""

    server: ServerSettings
    database: DatabaseSettings
    llm: LLMSettings
    sessions: SessionSettings
    chat: ChatSettings
    knowledge: KnowledgeSettings


SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (
    ServerSettings,
    DatabaseSettings,
    LLMSettings,
    SessionSettings,
    ChatSettings,
    KnowledgeSettings,
)


def setting_names() -> list[str]:
    """Every environment variable Nimbus reads (used to keep `.env.example` complete)."""
    names: list[str] = []
    for cls in SETTINGS_CLASSES:
        for field in cls.model_fields.values():
            alias = field.validation_alias
            assert isinstance(alias, AliasChoices)
            names.extend(str(choice) for choice in alias.choices)
    return names


def load_settings(env_file: Path | str | None = ".env", **overrides: Any) -> Settings:
    """Read and validate all settings; raise ConfigError naming each bad variable."""
    parts: dict[str, Any] = {}
    problems: list[str] = []
    keys = {"server": ServerSettings, "database": DatabaseSettings, "llm": LLMSettings}
    keys |= {"sessions": SessionSettings, "chat": ChatSettings, "knowledge": KnowledgeSettings}
    for key, cls in keys.items():
        try:
            parts[key] = overrides.get(key) or cls(_env_file=env_file)
        except ValidationError as exc:
            problems.extend(_describe(exc))
    if problems:
        raise ConfigError("Invalid configuration:\n  " + "\n  ".join(problems))
    return Settings(**parts)


def _describe(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "?"
        secret = any(word in name for word in ("KEY", "PASSWORD", "URL"))
        shown = "" if secret else f" (got {error.get('input')!r})"
        lines.append(f"{name}: {error['msg']}{shown}")
    return lines
