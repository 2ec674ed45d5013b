"""Secrets from the environment, files, AWS, Vault, GCP and Azure behind one call.

```python
from hardpoint.secrets import get_secret

password = get_secret("DATABASE_PASSWORD")        # like os.environ["DATABASE_PASSWORD"]
```

Values are cached in-process for a short TTL, fetched once per name under concurrency,
served stale while a backend is down (within *max_stale*), and kept out of every repr,
exception and log record; `redact_secrets()` scrubs them from other libraries' logs too.
Every backend class can be imported without its SDK; only constructing it needs the extra.
"""

from hardpoint.secrets._aws import AwsSecretsManagerBackend
from hardpoint.secrets._azure import AzureKeyVaultBackend
from hardpoint.secrets._base import FetchedSecret, SecretBackend
from hardpoint.secrets._chain import ChainBackend
from hardpoint.secrets._config import aget_secret, configure_secrets, get_secret, reset_secrets
from hardpoint.secrets._env import EnvBackend, FileBackend
from hardpoint.secrets._gcp import GcpSecretManagerBackend
from hardpoint.secrets._manager import MISSING, SecretsManager
from hardpoint.secrets._redact import RedactingFilter, redact_secrets
from hardpoint.secrets._vault import (
    AppRoleAuth,
    JwtAuth,
    KubernetesAuth,
    TokenAuth,
    VaultAuth,
    VaultBackend,
)

__all__ = [
    "MISSING",
    "AppRoleAuth",
    "AwsSecretsManagerBackend",
    "AzureKeyVaultBackend",
    "ChainBackend",
    "EnvBackend",
    "FetchedSecret",
    "FileBackend",
    "GcpSecretManagerBackend",
    "JwtAuth",
    "KubernetesAuth",
    "RedactingFilter",
    "SecretBackend",
    "SecretsManager",
    "TokenAuth",
    "VaultAuth",
    "VaultBackend",
    "aget_secret",
    "configure_secrets",
    "get_secret",
    "redact_secrets",
    "reset_secrets",
]
