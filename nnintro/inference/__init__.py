"""A trained run answering inputs: its model loaded once, and the readers that turn files, table rows and points
into what the model takes. predict, the notebook and serve all predict through it, so they give the same numbers."""
