"""A real Kubernetes API server for tests, and the helpers that stand in for the rest of a cluster.

- :mod:`.controlplane`: etcd + kube-apiserver on loopback (``running_control_plane``).
- :mod:`.certs`: the CA, serving certificate, service-account key and admin token it runs with.
- :mod:`.objects`: clients, Pod Security "restricted" namespaces, CRDs, SubjectAccessReviews.
- :mod:`.status`: Pod, Deployment, Kafka, KafkaTopic and SparkApplication statuses as the kubelet,
  the controllers and the operators would write them (healthy, then each fault).

The fixtures built on them live in ``tests/kube/conftest.py``.
"""
