"""The seed 000 REST API ("ProSignals API v1"), its own process: `smpp-bridge api`.

errors      every error code, its HTTP status, the one error body
validate    the POST /sms/send body: msgspec at the edge, one error per problem
auth        API keys: Bearer header, cache with a short TTL, failed attempts per address
ratelimit   requests per minute per key, across processes, in token batches
batcher     concurrent sends share one transaction (grouped by account)
middleware  request ids, one JSON log line per request, Prometheus metrics
app         the Starlette app: routes, lifespan (pool, listeners), request ids, logs, metrics
openapi     the OpenAPI 3.1 document (committed as openapi.json)
server      uvicorn on a socket: TLS or loopback, proxies

See docs/api.md.
"""
