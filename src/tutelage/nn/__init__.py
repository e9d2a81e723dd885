"""The Python face of the Cython core: layers, models (one θ vector), losses, optimizers, save/load."""
