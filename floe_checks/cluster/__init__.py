"""A real Kubernetes control plane for the chart tests, built from source (no Docker).

Plain Python, no pytest import: :class:`floe_checks.cluster.controlplane.ControlPlane` starts
etcd, kube-apiserver (PodSecurity admission on), kube-controller-manager, kube-scheduler and a
kwok controller with fake nodes on 127.0.0.1. The binaries come from
scripts/build-control-plane.sh (docs/cluster.md).
"""
