"""The Pulumi program: read this stack's config, build the platform, export what operators need.

Pulumi runs this file with `platform/` on sys.path (this folder is not a Python package: a
`platform/__init__.py` would shadow the standard library's `platform` module)."""

import pulumi

from event_platform import config, stack

try:
    cfg = config.from_pulumi()
except config.ConfigError as err:
    # RunError: Pulumi prints the message alone, without a traceback into its own internals.
    raise pulumi.RunError(f"invalid stack configuration:\n{err}") from None

# The host's architecture is read here, not in the components: they stay pure functions of their args.
stack.export(stack.build(cfg, host_platform=config.host_platform()))
