"""The event platform: a Kubernetes platform and the event collector on it, declared with Pulumi.

`config` says what a stack may configure, `stack.build` wires the components, `render` writes what a
stack declares as YAML without a Pulumi engine or a cluster.
"""
