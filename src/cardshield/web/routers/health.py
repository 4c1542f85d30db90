"""Liveness and readiness. Readiness checks every dependency a request needs."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from cardshield.web.deps import Public, RuntimeDep
from cardshield.web.routers._schemas import HealthOut, ReadyOut, ok

router = APIRouter(tags=["health"], dependencies=[Public])


@router.get(
    "/healthz",
    response_model=None,
    responses=ok(HealthOut),
    summary="Liveness: the process answers",
)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={**ok(ReadyOut), 503: {"model": ReadyOut, "description": "Not ready"}},
    summary="Readiness: database, KMS and volatile store reachable",
)
def readyz(runtime: RuntimeDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; the type is enough to debug
        checks["database"] = f"error: {type(exc).__name__}"
    for name, check in (("kms", runtime.kms.check), ("volatile_store", runtime.cvv_store.check)):
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )
