"""The daemon's pipeline: claim -> route -> submit; responses, receipts and MO -> store.

``Daemon`` (daemon.py) is the contract the service codes against
(docs/carrier.md); docs/pipeline.md describes the pipeline, docs/outcomes.md its policies.
"""

from bridge.dispatch.daemon import Daemon
from bridge.dispatch.stats import DaemonStats

__all__ = ["Daemon", "DaemonStats"]
