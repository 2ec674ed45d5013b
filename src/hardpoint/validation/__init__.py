"""Input validation for ASGI apps: size limits, strict parsing and attack detection.

```python
from hardpoint.validation import InputValidationMiddleware

app.add_middleware(InputValidationMiddleware)                    # Starlette or FastAPI
app.add_middleware(InputValidationMiddleware, mode="monitor")     # log, never block
```

The middleware refuses bodies over the size limit (413, before buffering them), malformed
or oversized JSON and forms (400 naming the limit) and values in which the detectors find
SQL injection, cross-site scripting, path traversal or command injection (400 naming the
field). `scan` runs the same detectors on one string.
"""

from hardpoint.validation._config import Limits, ValidationConfig
from hardpoint.validation._middleware import InputValidationMiddleware
from hardpoint.validation._scan import scan
from hardpoint.validation._types import Detector, Finding

__all__ = ["Detector", "Finding", "InputValidationMiddleware", "Limits", "ValidationConfig", "scan"]
