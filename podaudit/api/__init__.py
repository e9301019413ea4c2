"""The API server's side: nodes, pods, namespaces and the kubelets' configz, from kubectl or a snapshot."""
