"""`python -m event_platform.config dev`: prints the stack's Kubernetes version (the Makefile's
`validate` passes it to the validator)."""

import sys

from event_platform.config.loading import load_stack_file
from event_platform.render import stack_file

print(load_stack_file(stack_file(sys.argv[1])).cluster.kubernetes_version)
