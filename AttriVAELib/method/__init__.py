"""The network and how it learns: the 3D convolutional VAE with its classifier (:mod:`.model`), the losses
(:mod:`.losses`), the in-plane augmentation (:mod:`.augmentation`), and how it runs fast without changing it
(:mod:`.acceleration`: device, precision, compile, layout, allocator; :mod:`.distributed`: torchrun). Imports
only the package's base modules."""
