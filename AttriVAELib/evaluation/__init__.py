"""How good a model is, against ground truth: the evaluation of a model on a cohort (:mod:`.evaluate`), what
the decoder keeps (:mod:`.decoder_fidelity`), whether traversals land (:mod:`.fidelity`) and whether attention
falls on the anatomy (:mod:`.localisation`); the disentanglement metrics are :mod:`AttriVAELib.metrics`.
Imports :mod:`..interpretation` and the wings below it."""
