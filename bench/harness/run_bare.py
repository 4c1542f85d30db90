"""Serve bench/harness/bare_app.py with exactly the uvicorn options ``cardshield serve`` uses."""

from __future__ import annotations

import argparse

import uvicorn

from cardshield.commands.serve import UVICORN_OPTIONS

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "bare_app:create", host=args.host, port=args.port, workers=args.workers, **UVICORN_OPTIONS
    )
