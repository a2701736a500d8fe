"""The floor: a bare passthrough that parses the body, rewrites `model` and streams the answer.

python bench/baseline.py --upstream URL --model NAME [--port 0] [--client aiohttp|httpx]
"""

import argparse

import aiohttp
import httpx
import orjson
from aiohttp import web

DROP = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}


async def handle(request: web.Request) -> web.StreamResponse:
    body = orjson.loads(await request.read())
    body["model"] = ARGS.model
    url = ARGS.upstream + request.path_qs
    headers = {k: v for k, v in request.headers.items() if k.lower() not in DROP}
    out = web.StreamResponse()
    if ARGS.client == "httpx":
        req = CLIENT.build_request("POST", url, content=orjson.dumps(body), headers=headers)
        upstream = await CLIENT.send(req, stream=True)
        chunks, status = upstream.aiter_raw(), upstream.status_code
    else:
        upstream = await CLIENT.post(url, data=orjson.dumps(body), headers=headers)
        chunks, status = upstream.content.iter_any(), upstream.status
    out.set_status(status)
    out.content_type = upstream.headers.get("content-type", "application/json").split(";")[0]
    await out.prepare(request)
    async for chunk in chunks:
        await out.write(chunk)
    await (upstream.aclose() if ARGS.client == "httpx" else upstream.release())
    await out.write_eof()
    return out


async def start(app: web.Application) -> None:
    global CLIENT
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    CLIENT = httpx.AsyncClient(timeout=600, limits=limits) if ARGS.client == "httpx" else None
    CLIENT = CLIENT or aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512))


p = argparse.ArgumentParser()
p.add_argument("--upstream", required=True)
p.add_argument("--model", required=True)
p.add_argument("--port", type=int, default=0)
p.add_argument("--client", choices=["aiohttp", "httpx"], default="aiohttp")
ARGS = p.parse_args()
app = web.Application(client_max_size=64 << 20)
app.on_startup.append(start)
app.router.add_post("/{tail:.*}", handle)
web.run_app(app, host="127.0.0.1", port=ARGS.port, access_log=None, print=None)
