"""The settings that say where the stores are: Redis (one server or a cluster), PostgreSQL and
the prefix of every Redis key, and the key names that follow from them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from eventlog.keys import Keys
from eventlog.setting_fields import setting


class SettingsError(ValueError):
    """A setting has a value that cannot be used, or one a command needs is not set."""


class StoreSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    redis_url: str | None = setting(
        None,
        "stores",
        "the event log's Redis (or REDIS_HOST, REDIS_PORT, REDIS_PASSWORD);"
        " unset under `oee up`: embedded Valkey",
    )
    redis_cluster_url: str | None = setting(
        None,
        "stores",
        "any node of a Redis Cluster (redis://[:password@]host:port): the engine uses the cluster"
        " and REDIS_URL is not read",
    )
    database_url: str | None = setting(
        None, "stores", "PostgreSQL of the read models; unset under `oee up`: embedded PostgreSQL"
    )
    key_prefix: str = setting(
        "oee", "stores", "prefix of every Redis key", pattern=r"^[A-Za-z0-9_.:-]{1,64}$"
    )

    @property
    def clustered(self) -> bool:
        """Whether the log is on a Redis Cluster."""
        return bool(self.redis_cluster_url)

    def log_keys(self) -> Keys:
        """The names of this deployment's Redis keys. On a cluster every name carries the prefix
        as its hash tag, so the keys one script or transaction touches share a slot."""
        return Keys(self.key_prefix, hash_tagged=self.clustered)

    def has_redis(self) -> bool:
        return bool(self.redis_cluster_url or self.redis_url)

    def require_redis_url(self) -> str:
        """The URL of the Redis to connect to: a node of the cluster, when there is one."""
        url = self.redis_cluster_url or self.redis_url
        if not url:
            raise SettingsError("REDIS_URL (or REDIS_HOST, or REDIS_CLUSTER_URL) is not set")
        return url

    def require_database_url(self) -> str:
        if not self.database_url:
            raise SettingsError("DATABASE_URL is not set")
        return self.database_url
