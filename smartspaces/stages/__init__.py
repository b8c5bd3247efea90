"""The pipeline's stages, each a service of its own that uses the runtime (`smartspaces.*`) and the
transformation library; the runtime never imports a stage."""
