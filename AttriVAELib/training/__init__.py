"""Making models: the training loop with resumable checkpoints (:mod:`.loop`), cross-validation of presets
(:mod:`.crossval`) and calibration on a held-out cohort (:mod:`.cohort_calibration`). The top wing of the
library: imports every other but the applications (:mod:`..apps`) and the Slicer bridge (:mod:`..slicer`)."""
