"""A deployment at run time: live model, feature state, captured features, progressive metrics."""
