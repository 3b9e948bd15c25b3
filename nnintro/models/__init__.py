"""The networks: packed layers and building from an architecture (layers), the optimizers and schedulers that
train them (optim), and the lecture's from-scratch numpy network (scratch)."""
