"""Entry points: the `emissions-ledger` command and the HTTP server, callers of the services.

`cli.main` builds one parser from the command groups (one module each: `core`, `server`,
`demo`, `finance`, `monitoring`, `tax`, `cems_generator`); every sub-command names the function
that runs it with `set_defaults(run=...)`. The demo loader and the CEMS data generator live here
too: like the API, they only call the services.
"""
