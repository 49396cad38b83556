"""The dashboard's HTTP side: JSON endpoints (with an OpenAPI schema) and the page.

Every endpoint hands its work to :class:`~ledgerlearn.dashboard.service.DashboardService`
on one worker thread: chain backends and the SQLite store of originals belong
to the thread that made them, and requests must take turns on the chain
anyway; the event loop stays free to serve the page meanwhile.

Errors are ``{"error": message}``: 400 bad input, 404 unknown model,
contribution or run, 409 the contract refused (its revert reason), 502 the
chain backend failed, 500 anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Optional, Union

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from ledgerlearn.dashboard.service import MAX_PAGE, DashboardService
from ledgerlearn.errors import ChainError, LedgerlearnError, NotFoundError, TransactionReverted, ValidationError

STATIC = Path(__file__).with_name("static")
Account = Union[str, int]
Amount = Union[str, int, None]


# ------------------------------------------------------------------ bodies
class AccountBody(BaseModel):
    account: Account = Field(description="Dev account index or address the dashboard can sign for.")


class PredictBody(BaseModel):
    input: Any = Field(description="Text, a list of numbers (or a string of them), or an image as a data URL.")


class ContributeBody(AccountBody):
    input: Any = Field(description="As for predict.")
    label: Union[str, int] = Field(description="Class name or index.")
    value: Amount = Field(None, description="Wei to send (default: the current deposit); '0.05eth' style accepted.")
    max_deposit: Amount = Field(None, description="Refuse if the deposit is higher than this.")


class AdvanceBody(BaseModel):
    seconds: int = Field(description="Seconds to move a dev chain's clock forward.")


class DeployBody(AccountBody):
    name: str = Field(description="Name to record the model under (and its on-chain name).")
    model: dict = Field(description="The model file's JSON object (the reference's format).")
    incentive: str = "drt"
    refund_wait: Union[str, int, None] = Field(None, description="e.g. '1d', '3h', 90 (default 1d).")
    owner_claim_wait: Union[str, int, None] = Field(None, description="Default 8d for drt.")
    any_claim_wait: Union[str, int, None] = Field(None, description="Default 9d for drt.")
    cost_weight: Amount = Field(None, description="DRT deposit scale in wei (default 1e15).")
    description: str = ""
    encoder: Optional[str] = Field(None, description="Input encoder (default: by model type).")


class EvaluationBody(BaseModel):
    records: list[dict] = Field(description="[{input, label}, ...] labelled examples, encoded by the model's encoder.")


class PrepareBody(BaseModel):
    account: str = Field(description="The wallet's address.")
    input: Any = None
    label: Union[str, int, None] = None
    value: Amount = None
    tx_hash: Optional[str] = Field(None, description="The contribution, for refund and report.")


# ------------------------------------------------------------------- app
def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _swagger_ui() -> str:
    import swagger_ui_bundle

    return swagger_ui_bundle.swagger_ui_path


def create_app(service: DashboardService) -> FastAPI:
    """The FastAPI app serving ``service`` (one worker thread runs all of its calls)."""
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledgerlearn-chain")

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        worker.shutdown(wait=True)

    app = FastAPI(
        lifespan=lifespan,
        docs_url=None,  # served below from the swagger-ui-bundle package: no CDN, works offline
        redoc_url=None,
        title="ledgerlearn dashboard",
        version="1",
        description="Shared models on chain: predict, contribute, refund, report, withdraw; charts; runs and markets. "
        "Money is integer wei as decimal strings (`*_wei`) with display twins (`*_eth`).",
    )
    app.state.service = service
    app.state.worker = worker

    async def run(fn: Callable, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(worker, functools.partial(fn, *args, **kwargs))

    @app.exception_handler(ValidationError)
    async def _bad(_: Request, exc: ValidationError):
        return _error(400, str(exc))

    @app.exception_handler(NotFoundError)
    async def _missing(_: Request, exc: NotFoundError):
        return _error(404, str(exc))

    @app.exception_handler(TransactionReverted)
    async def _refused(_: Request, exc: TransactionReverted):
        return _error(409, f"the contract refused: {exc}")

    @app.exception_handler(ChainError)
    async def _chain(_: Request, exc: ChainError):
        return _error(502, f"chain: {exc}")

    @app.exception_handler(LedgerlearnError)
    async def _other(_: Request, exc: LedgerlearnError):
        return _error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _shape(_: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path"))
            parts.append(f"{where or 'request'}: {e.get('msg', 'invalid')}")
        return _error(400, "; ".join(parts) or "invalid request")

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception):
        return _error(500, f"internal error: {type(exc).__name__}: {exc}")

    s = service
    limit_q = Query(50, ge=1, le=MAX_PAGE)
    offset_q = Query(0, ge=0)

    # ---------------------------------------------------------- chain
    @app.get("/api/status", tags=["chain"], summary="Chain id, backend, block and time")
    async def status():
        return await run(s.status)

    @app.get("/api/accounts", tags=["chain"], summary="Dev accounts with balances")
    async def accounts():
        return await run(s.accounts)

    @app.post("/api/chain/advance", tags=["chain"], summary="Move a dev chain's clock forward")
    async def advance(body: AdvanceBody):
        return await run(s.advance, body.seconds)

    @app.get("/api/tx/{tx_hash}", tags=["chain"], summary="Status and decoded events of a mined transaction")
    async def transaction(tx_hash: str):
        return await run(s.transaction, tx_hash)

    # --------------------------------------------------------- models
    @app.get("/api/models", tags=["models"], summary="Shared models recorded on this chain")
    async def models():
        return await run(s.models)

    @app.post("/api/models", tags=["models"], summary="Deploy a model from a model file")
    async def deploy(body: DeployBody):
        return await run(s.deploy, body.model_dump())

    @app.get("/api/models/{model}", tags=["models"], summary="A model: facts, deposit now, input it takes")
    async def model(model: str):
        return await run(s.model, model)

    @app.post("/api/models/{model}/predict", tags=["models"], summary="Predict (free: a call, no transaction)")
    async def predict(model: str, body: PredictBody):
        return await run(s.predict, model, body.input)

    @app.get("/api/models/{model}/deposit", tags=["models"], summary="What a contribution made now pays")
    async def deposit(model: str):
        return await run(s.deposit, model)

    @app.post("/api/models/{model}/contributions", tags=["contributions"], summary="Add data, paying the deposit")
    async def contribute(model: str, body: ContributeBody):
        return await run(s.contribute, model, input=body.input, label=body.label, account=body.account,
                         value=body.value, max_deposit=body.max_deposit)

    @app.get("/api/models/{model}/contributions", tags=["contributions"], summary="Contributions, newest first (paged)")
    async def contributions(model: str, author: Optional[str] = None, offset: int = offset_q, limit: int = limit_q):
        return await run(s.contributions, model, author=author, offset=offset, limit=limit)

    @app.post("/api/models/{model}/contributions/{tx_hash}/refund", tags=["contributions"], summary="Refund your own contribution")
    async def refund(model: str, tx_hash: str, body: AccountBody):
        return await run(s.refund, model, tx_hash, account=body.account)

    @app.post("/api/models/{model}/contributions/{tx_hash}/report", tags=["contributions"], summary="Report (or take) someone else's contribution")
    async def report(model: str, tx_hash: str, body: AccountBody):
        return await run(s.report, model, tx_hash, account=body.account)

    @app.get("/api/models/{model}/reportable", tags=["contributions"], summary="Contributions an account can report now, with the amount")
    async def reportable(model: str, account: str, offset: int = offset_q, limit: int = limit_q):
        return await run(s.reportable, model, account=account, offset=offset, limit=limit)

    @app.post("/api/models/{model}/withdraw", tags=["contributions"], summary="Withdraw what failed payments credited")
    async def withdraw(model: str, body: AccountBody):
        return await run(s.withdraw, model, account=body.account)

    @app.get("/api/models/{model}/accounts/{account}", tags=["contributions"], summary="An account's balance and score")
    async def account_stats(model: str, account: str):
        return await run(s.account_stats, model, account)

    @app.post("/api/models/{model}/prepare/{action}", tags=["wallet"], summary="An unsigned transaction for a browser wallet")
    async def prepare(model: str, action: str, body: PrepareBody):
        return await run(s.prepare, model, action, body.model_dump())

    # --------------------------------------------------------- charts
    @app.get("/api/models/{model}/charts/accuracy", tags=["charts"], summary="Accuracy over time (exact replay)")
    async def accuracy_chart(model: str):
        return await run(s.accuracy_chart, model)

    @app.get("/api/models/{model}/charts/balances", tags=["charts"], summary="Each account's net wei over time, from events")
    async def balances_chart(model: str):
        return await run(s.balances_chart, model)

    @app.post("/api/models/{model}/evaluation", tags=["charts"], summary="Attach a labelled evaluation set")
    async def evaluation(model: str, body: EvaluationBody):
        return await run(s.attach_evaluation, model, body.records)

    # --------------------------------------------------- runs, markets
    @app.get("/api/runs", tags=["runs"], summary="Simulation records in the runs folder")
    async def runs():
        return await run(s.runs)

    @app.get("/api/runs/{run_id}", tags=["runs"], summary="A simulation record's series")
    async def run_detail(run_id: str):
        return await run(s.run, run_id)

    @app.get("/api/markets", tags=["markets"], summary="Markets recorded on this chain")
    async def markets():
        return await run(s.markets)

    @app.get("/api/markets/{name}", tags=["markets"], summary="A market and its rounds")
    async def market(name: str):
        return await run(s.market, name)

    # ------------------------------------------------------------ page
    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title="ledgerlearn dashboard API",
            swagger_js_url="/swagger/swagger-ui-bundle.js", swagger_css_url="/swagger/swagger-ui.css",
            swagger_favicon_url="/swagger/favicon-32x32.png",
        )

    app.mount("/swagger", StaticFiles(directory=_swagger_ui()), name="swagger")

    @app.get("/static/plotly.min.js", include_in_schema=False)
    async def plotly_js():
        return FileResponse(_plotly_js(), media_type="application/javascript")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html")

    return app
