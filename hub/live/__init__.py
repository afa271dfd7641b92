"""The live view: what is happening in a store now, fed by the hub's commits (issue 16).

`state.LiveState` (figures in memory) <- `feed.LiveFeed` (the writer's hook, a thread, and every other
worker's rows read back: `history.History.poll`) and `screen.Tail` (the CLI); `server.LiveServer`
serves the page with login (`auth`: users and sessions in the database, `page`). Either engine
(hub/store/sql.py). Nothing is imported here, so that `import hub.cli` (which registers `users` and
`live` from `cli`) stays light.
"""
