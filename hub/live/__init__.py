"""The live view: what is happening in a store now, fed by the hub's commits (issue 16).

`LiveState` (figures in memory) <- `LiveFeed` (the writer's hook, a thread) and `tail` (the CLI);
`LiveServer` serves the page with login; `screen` draws `footfall-hub live`.
"""

from hub.live.feed import LiveFeed, live_state
from hub.live.server import LiveServer
from hub.live.state import LiveState

__all__ = ["LiveFeed", "LiveServer", "LiveState", "live_state"]
