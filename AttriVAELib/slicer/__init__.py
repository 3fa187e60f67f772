"""What only the 3D Slicer module uses: the MRML bridge (:mod:`.mrml`), the training process it runs and
watches (:mod:`.process`) and the installation of its requirements (:mod:`.dependencies`). Torch-free, so the
module loads before PyTorch is installed; nothing else in the library imports from here."""
