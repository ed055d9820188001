"""Entry point Pulumi runs for `--policy-pack policy`: serves the policies of `event_platform_policies`.

Pulumi runs this folder with `runpy`, which puts it on sys.path; the policies themselves live in the
package so tests import them without starting the pack's gRPC server (which this file does).
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from event_platform_policies import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=list(POLICIES), enforcement_level=EnforcementLevel.MANDATORY)
