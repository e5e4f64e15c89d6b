"""PostgreSQL store of smpp-bridge (asyncpg on trio through trio-asyncio).

db          typed trio wrapper: open_database / open_connection, Database, Connection
embedded    pgserver's bundled PostgreSQL in a data directory
connect     configuration -> DSN (configured server or embedded)
migrate     versioned SQL migrations (migrations/NNNN_name.sql)
accounts    accounts, top-ups, balance, settle (charge/refund), reconcile
plan        enqueue's pure half: validation, routing, segmentation, prices, senders
enqueue     seed 000 POST /sms/send in one transaction
queries     seed 000 GET /sms/{id}
routing     destination -> route (longest prefix, country, default)
senders     sender id kind -> TON/NPI
models      the seed's response shapes (msgspec), ids, JSON with exact money

See docs/store.md.
"""
