"""The bench's server under uvicorn instead of daphne (issue 23.1's ASGI server
comparison; bench runs only, `make run` serves daphne through playground.server).

    python -m bench.uvicorn_serve --port P --http h11|httptools

The same process tuning as `python -m playground.server`: uvloop, the application
imported first and then the frozen, tuned GC; uvicorn itself sets TCP_NODELAY on
its connections (asyncio's transports do) and writes eagerly.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--http", default="h11", choices=["h11", "httptools"])
    args = parser.parse_args()
    from playground import envfile
    from playground.server import tune_gc, use_uvloop

    envfile.load()
    use_uvloop()
    import uvicorn

    from bench.serve import application

    tune_gc()
    uvicorn.run(
        application, host="127.0.0.1", port=args.port, loop="uvloop", http=args.http, ws="websockets",
        lifespan="off", log_level="warning", access_log=False,
    )


if __name__ == "__main__":
    main()
